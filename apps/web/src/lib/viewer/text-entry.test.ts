import { DATA_LIMITS, type InputMessage, parseInputMessage } from "@rd/protocol";
import { beforeEach, describe, expect, it } from "vitest";
import { attachTextEntry, keysForText, MAX_KEYS_AT_ONCE, type TextEntry, textEdit } from "./text-entry.ts";

/** A text field as the browser leaves it: its value already changed when `input` fires. */
class FakeField extends EventTarget {
  value = "";
  focused = 0;
  focus() {
    this.focused++;
    this.dispatchEvent(new Event("focus"));
  }
  /** The user (or their keyboard) made the text `value`. */
  edit(value: string) {
    this.value = value;
    this.dispatchEvent(new Event("input"));
  }
}

describe("textEdit", () => {
  it("is what to take back from the end, then what to type", () => {
    expect(textEdit("", "hello")).toEqual({ deletions: 0, text: "hello" });
    expect(textEdit("hello", "hell")).toEqual({ deletions: 1, text: "" });
    // An autocorrected word: the changed tail goes, the right one comes.
    expect(textEdit("I hwve", "I have ")).toEqual({ deletions: 3, text: "ave " });
    expect(textEdit("same", "same")).toEqual({ deletions: 0, text: "" });
  });

  it("counts characters as a person sees them, not UTF-16 units or code points", () => {
    expect(textEdit("a😀", "a")).toEqual({ deletions: 1, text: "" });
    expect(textEdit("a😀", "a😃")).toEqual({ deletions: 1, text: "😃" });
    // A heart with its variation selector, and a family joined with ZWJs: one Backspace each.
    expect(textEdit("x❤️👨‍👩‍👧", "x")).toEqual({ deletions: 2, text: "" });
    // A letter that gains a combining accent is taken back and typed again with it.
    expect(textEdit("e", "e\u0301")).toEqual({ deletions: 1, text: "e\u0301" });
  });
});

describe("keysForText", () => {
  it("types characters as themselves, new lines as Enter and tabs as Tab", () => {
    expect(keysForText("é\tж\r\n1")).toEqual([
      { code: "Unidentified", key: "é" },
      { code: "Tab", key: "Tab" },
      { code: "Unidentified", key: "ж" },
      { code: "Enter", key: "Enter" },
      { code: "Unidentified", key: "1" },
    ]);
  });

  it("drops other control characters", () => {
    expect(keysForText("a\u0007\u001bb")).toEqual([
      { code: "Unidentified", key: "a" },
      { code: "Unidentified", key: "b" },
    ]);
  });
});

describe("attachTextEntry", () => {
  let field: FakeField;
  let sent: InputMessage[];
  let enabled: boolean;
  let tooLong: [number, number][];
  let entry: TextEntry;
  /** The taps sent, as "code key" for each down (every down is followed by its up). */
  const taps = () => {
    const downs = sent.filter((m) => m.type === "input/key" && m.action === "down");
    expect(sent.length).toBe(downs.length * 2);
    return downs.map((m) => m.type === "input/key" && (m.code === "Unidentified" ? m.key : m.code));
  };

  beforeEach(() => {
    field = new FakeField();
    sent = [];
    enabled = true;
    tooLong = [];
    entry = attachTextEntry({
      field,
      send: (m) => sent.push(m),
      enabled: () => enabled,
      onTooLong: (n, dropped) => tooLong.push([n, dropped]),
    });
  });

  it("sends what the field's text became: characters typed, Backspaces for what went", () => {
    field.edit("h");
    field.edit("hi");
    field.edit("hi wprld");
    // The keyboard's autocorrect replaces the word.
    field.edit("hi world ");
    field.edit("hi world \n");
    expect(taps()).toEqual([
      "h",
      "i",
      " ",
      "w",
      "p",
      "r",
      "l",
      "d",
      "Backspace",
      "Backspace",
      "Backspace",
      "Backspace",
      "o",
      "r",
      "l",
      "d",
      " ",
      "Enter",
    ]);
    // Every message is one the agent takes.
    for (const message of sent)
      expect(parseInputMessage(JSON.stringify(message))).toEqual({ ok: true, message });
  });

  it("follows an input method's composition to the characters it ends on", () => {
    field.dispatchEvent(new Event("compositionstart"));
    field.edit("n");
    field.edit("ni");
    field.edit("你");
    field.dispatchEvent(new Event("compositionend"));
    expect(taps()).toEqual(["n", "i", "Backspace", "Backspace", "你"]);
  });

  it("empties a long text between words, not while a word is being composed", () => {
    const long = "x".repeat(70);
    field.dispatchEvent(new Event("compositionstart"));
    field.edit(long);
    expect(field.value).toBe(long);
    field.dispatchEvent(new Event("compositionend"));
    expect(field.value).toBe("");
    sent = [];
    field.edit("y");
    expect(taps()).toEqual(["y"]);
  });

  it("starts from an empty field when it takes the focus", () => {
    field.value = "left over";
    field.focus();
    field.edit("a");
    expect(field.focused).toBe(1);
    expect(taps()).toEqual(["a"]);
  });

  it("sends nothing while input is off, and does not send it later", () => {
    enabled = false;
    field.edit("secret");
    enabled = true;
    field.edit("secret!");
    expect(taps()).toEqual(["!"]);
  });

  it("sends a long paste up to what the agent takes at once, and says what it dropped", () => {
    expect(MAX_KEYS_AT_ONCE * 2).toBeLessThanOrEqual(DATA_LIMITS.inputBurst / 2);
    field.edit("ab");
    sent = [];
    // Backspaces count too.
    field.edit("z".repeat(MAX_KEYS_AT_ONCE + 3));
    expect(taps()).toHaveLength(MAX_KEYS_AT_ONCE);
    expect(tooLong).toEqual([[MAX_KEYS_AT_ONCE, 5]]);
  });

  it("measures the next change from an empty field after reset() (a key went from it as a key)", () => {
    field.edit("hello");
    entry.reset();
    expect(field.value).toBe("");
    sent = [];
    // The keyboard then corrects what it still remembers: only the new text goes.
    field.edit("help");
    expect(taps()).toEqual(["h", "e", "l", "p"]);
  });
});
