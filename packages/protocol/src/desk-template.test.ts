import { describe, expect, it } from "vitest";
import {
  applyDeskTemplateOverrides,
  builtInDeskTemplate,
  DEFAULT_DESK_PROGRAMS,
  DeskTemplateError,
  listBuiltInDeskTemplates,
  parseDeskTemplate,
} from "./desk-template.ts";

/** The error parseDeskTemplate throws for `input`. */
function refusal(input: unknown): DeskTemplateError {
  try {
    parseDeskTemplate(input);
  } catch (error) {
    if (error instanceof DeskTemplateError) return error;
    throw error;
  }
  throw new Error("the template was accepted");
}

describe("desk templates", () => {
  it("fills every field but the name with a sane default", () => {
    expect(parseDeskTemplate({ name: "minimal" })).toEqual({
      name: "minimal",
      resolution: "1366x768",
      programs: DEFAULT_DESK_PROGRAMS,
      limits: { memoryMiB: 1024, cpus: 1, maxProcesses: 256 },
      egress: "none",
      clipboard: {
        direction: "in",
        maxBytes: 4096,
        blockedPatterns: { cardNumbers: true, nationalIds: true, custom: [] },
      },
      recording: "choice",
      ttlMinutes: 60,
    });
  });

  it("keeps the values it is given, nested ones field by field", () => {
    const template = parseDeskTemplate({
      name: "big-screen",
      resolution: "1920x1080",
      limits: { memoryMiB: 4096 },
      clipboard: { direction: "both", blockedPatterns: { custom: ["secret-\\d+"] } },
      egress: "internet",
      ttlMinutes: 480,
    });
    expect(template).toMatchObject({
      resolution: "1920x1080",
      limits: { memoryMiB: 4096, cpus: 1, maxProcesses: 256 },
      clipboard: {
        direction: "both",
        maxBytes: 4096,
        blockedPatterns: { cardNumbers: true, nationalIds: true, custom: ["secret-\\d+"] },
      },
      egress: "internet",
      ttlMinutes: 480,
    });
  });

  it.each([
    [{ name: "Bad Name" }, "name", /Template name must be/],
    [{}, "name", /Template name must be text/],
    [{ name: "x", resolution: "800x600" }, "resolution", /one of 1920x1080, 1600x900, 1366x768/],
    [{ name: "x", limits: { memoryMiB: 100 } }, "limits.memoryMiB", /Memory must be at least 256 MiB/],
    [{ name: "x", limits: { memoryMiB: 9000 } }, "limits.memoryMiB", /Memory must be at most 8192 MiB/],
    [{ name: "x", limits: { memoryMiB: 1000.5 } }, "limits.memoryMiB", /whole number/],
    [{ name: "x", limits: { cpus: 0.1 } }, "limits.cpus", /CPUs must be at least 0.25/],
    [{ name: "x", limits: { cpus: 8 } }, "limits.cpus", /CPUs must be at most 4/],
    [{ name: "x", limits: { maxProcesses: 8 } }, "limits.maxProcesses", /at least 32/],
    [{ name: "x", limits: { maxProcesses: 5000 } }, "limits.maxProcesses", /at most 4096/],
    [{ name: "x", limits: { memory: 512 } }, "limits", /Limits has no field "memory"/],
    [{ name: "x", egress: "lan" }, "egress", /Egress must be one of none, internet/],
    [{ name: "x", clipboard: { direction: "sideways" } }, "clipboard.direction", /both, in, out, none/],
    [{ name: "x", clipboard: { maxBytes: 0 } }, "clipboard.maxBytes", /at least 1 bytes/],
    [
      { name: "x", clipboard: { blockedPatterns: { custom: ["ok", "(unclosed"] } } },
      "clipboard.blockedPatterns.custom.1",
      /Pattern "\(unclosed" is not a valid regular expression/,
    ],
    [
      {
        name: "x",
        clipboard: { blockedPatterns: { custom: Array.from({ length: 21 }, (_, i) => `p${i}`) } },
      },
      "clipboard.blockedPatterns.custom",
      /At most 20 custom patterns/,
    ],
    [
      { name: "x", clipboard: { blockedPatterns: { cardNumbers: "yes" } } },
      "clipboard.blockedPatterns.cardNumbers",
      /true or false/,
    ],
    [{ name: "x", programs: [] }, "programs", /at least one program/],
    [{ name: "x", programs: ["xterm"] }, "programs.0", /list of arguments/],
    [{ name: "x", programs: [["sh -c 'rm -rf /'"]] }, "programs.0", /program name or an absolute path/],
    [{ name: "x", programs: [["../bin/evil"]] }, "programs.0", /program name or an absolute path/],
    [{ name: "x", ttlMinutes: 1 }, "ttlMinutes", /Time to live must be at least 2 minutes/],
    [{ name: "x", ttlMinutes: 481 }, "ttlMinutes", /Time to live must be at most 480 minutes/],
    [{ name: "x", colour: "blue" }, "", /A desk template has no field "colour"/],
  ])("refuses %j naming the field %s", (input, path, message) => {
    const error = refusal(input);
    expect(error.issues).toEqual([{ path, message: expect.stringMatching(message) }]);
    expect(error.message).toMatch(path ? `Invalid desk template — ${path}: ` : "Invalid desk template — ");
  });

  it("names every bad field at once", () => {
    const error = refusal({ name: "x", resolution: "4k", limits: { cpus: 99 } });
    expect(error.issues.map((i) => i.path)).toEqual(["resolution", "limits.cpus"]);
  });

  it("offers the built-in interview template, and hands out copies", () => {
    expect(listBuiltInDeskTemplates().map((t) => t.name)).toEqual(["interview"]);
    const interview = builtInDeskTemplate("interview")!;
    expect(interview).toEqual(parseDeskTemplate({ name: "interview" }));
    interview.limits.memoryMiB = 8192;
    expect(builtInDeskTemplate("interview")!.limits.memoryMiB).toBe(1024);
    expect(builtInDeskTemplate("nope")).toBeUndefined();
    expect(builtInDeskTemplate("toString")).toBeUndefined();
  });

  it("applies overrides field by field and checks the result", () => {
    const base = builtInDeskTemplate("interview")!;
    const desk = applyDeskTemplateOverrides(base, {
      resolution: "1600x900",
      limits: { cpus: 2 },
      clipboard: { blockedPatterns: { nationalIds: false } },
    });
    expect(desk).toMatchObject({
      name: "interview",
      resolution: "1600x900",
      limits: { memoryMiB: 1024, cpus: 2, maxProcesses: 256 },
      clipboard: { direction: "in", blockedPatterns: { cardNumbers: true, nationalIds: false } },
    });
    // A field given as undefined keeps the base's value, not the schema's default.
    const wide = applyDeskTemplateOverrides({ ...base, resolution: "1920x1080" }, { resolution: undefined });
    expect(wide.resolution).toBe("1920x1080");
  });
});
