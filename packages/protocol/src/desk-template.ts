/**
 * Interview desk templates (design flow 5): what a desk runs and within which limits — screen size,
 * programs, memory/CPU/process limits, network egress, clipboard policy, time to live. One zod schema
 * with a sane default for every field, so `{ name }` alone is a usable template; a bad one is refused
 * with a message naming the field. The provider (the desk sandbox) reads the resolved template stored
 * on the desk; the dashboard starts from a built-in template and overrides some fields.
 */
import { z } from "zod";
import { DESK_LIMITS } from "./desk-state.ts";
import { RECORDING_POLICIES } from "./recording-policy.ts";

export const DESK_RESOLUTIONS = ["1920x1080", "1600x900", "1366x768"] as const;
export type DeskResolution = (typeof DESK_RESOLUTIONS)[number];

export const DESK_EGRESS = ["none", "internet"] as const;
export type DeskEgress = (typeof DESK_EGRESS)[number];

/** Which way text may cross between the candidate's own computer and the desk. */
export const CLIPBOARD_DIRECTIONS = ["both", "in", "out", "none"] as const;
export type ClipboardDirection = (typeof CLIPBOARD_DIRECTIONS)[number];

/** Flags the clipboard filter compiles custom patterns with (add "g" to find every match). */
export const CLIPBOARD_PATTERN_FLAGS = "u";

/**
 * The programs a desk starts, in order, each an argv run without a shell. The desk's display has
 * only what the machine's bootstrap installs (scripts/bootstrap.sh): fluxbox and xterm are there;
 * the editor is nano in an xterm, which the desk image must add (Debian `nano`).
 */
export const DEFAULT_DESK_PROGRAMS: readonly (readonly string[])[] = [
  ["fluxbox"],
  // The terminal top left, where a candidate looks first; the editor cascaded below and to the
  // right of it (80 columns each do not fit side by side on 1366 pixels), a click raising either.
  ["xterm", "-fa", "Monospace", "-fs", "11", "-geometry", "80x24+20+20"],
  [
    "xterm",
    "-fa",
    "Monospace",
    "-fs",
    "11",
    "-title",
    "Editor",
    "-geometry",
    "80x24+440+200",
    "-e",
    "nano",
    "notes.txt",
  ],
];

// A bare name looked up on the sandbox's PATH, or an absolute path: no shell, no spaces, no "..".
const PROGRAM_NAME = /^(?:[A-Za-z0-9._+-]+|\/(?:[A-Za-z0-9._+-]+\/)*[A-Za-z0-9._+-]+)$/;

function strict<T extends z.ZodRawShape>(shape: T, what: string) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `${what} has no field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`
        : `${what} must be an object`,
  });
}

const int = (label: string, unit: string, min: number, max: number) =>
  z
    .number({ error: `${label} must be a number${unit}` })
    .int({ error: `${label} must be a whole number${unit}` })
    .min(min, { error: `${label} must be at least ${min}${unit}` })
    .max(max, { error: `${label} must be at most ${max}${unit}` });

const compiles = (pattern: string, ctx: z.RefinementCtx) => {
  try {
    new RegExp(pattern, CLIPBOARD_PATTERN_FLAGS);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      message: `Pattern ${JSON.stringify(pattern)} is not a valid regular expression (${(error as Error).message})`,
    });
  }
};

/** Each field's rules, without defaults: the template adds its defaults, the overrides leave them out. */
const field = {
  name: z.string({ error: "Template name must be text" }).regex(/^[a-z0-9][a-z0-9-]{0,63}$/, {
    error: "Template name must be 1–64 lower-case letters, digits or dashes, starting with a letter or digit",
  }),
  resolution: z.enum(DESK_RESOLUTIONS, {
    error: `Resolution must be one of ${DESK_RESOLUTIONS.join(", ")}`,
  }),
  programs: z
    .array(
      z
        .array(
          z
            .string({ error: "A program's arguments must be text" })
            .max(1024, { error: "A program argument must be at most 1024 characters" })
            .refine((arg) => !arg.includes("\0"), { error: "A program argument must not contain NUL" }),
          { error: 'A program must be a list of arguments, like ["xterm", "-e", "nano"]' },
        )
        .min(1, { error: "A program needs at least its name" })
        .max(32, { error: "A program may have at most 32 arguments" })
        .refine((argv) => PROGRAM_NAME.test(argv[0] ?? ""), {
          error: "A program's first argument must be a program name or an absolute path",
        }),
      { error: "Programs must be a list of argument lists" },
    )
    .min(1, { error: "A desk needs at least one program" })
    .max(16, { error: "A desk may start at most 16 programs" }),
  memoryMiB: int("Memory", " MiB", 256, 8192),
  cpus: z
    .number({ error: "CPUs must be a number" })
    .min(0.25, { error: "CPUs must be at least 0.25" })
    .max(4, { error: "CPUs must be at most 4" }),
  maxProcesses: int("Max processes", "", 32, 4096),
  egress: z.enum(DESK_EGRESS, { error: `Egress must be one of ${DESK_EGRESS.join(", ")}` }),
  recording: z.enum(RECORDING_POLICIES, {
    error: `Recording must be one of ${RECORDING_POLICIES.join(", ")}`,
  }),
  direction: z.enum(CLIPBOARD_DIRECTIONS, {
    error: `Clipboard direction must be one of ${CLIPBOARD_DIRECTIONS.join(", ")}`,
  }),
  // Up to 1 MiB: a pasted file's worth, still small next to a data channel message limit.
  maxBytes: int("Clipboard size", " bytes", 1, 1_048_576),
  flag: (label: string) => z.boolean({ error: `${label} must be true or false` }),
  custom: z
    .array(
      z
        .string({ error: "A pattern must be text" })
        .min(1, { error: "A pattern must not be empty" })
        .max(200, { error: "A pattern must be at most 200 characters" })
        .superRefine(compiles),
      { error: "Custom patterns must be a list of regular expressions" },
    )
    .max(20, { error: "At most 20 custom patterns" }),
  ttlMinutes: int("Time to live", " minutes", DESK_LIMITS.minLifetimeMinutes, DESK_LIMITS.maxLifetimeMinutes),
};

const limits = strict(
  {
    memoryMiB: field.memoryMiB.default(1024),
    cpus: field.cpus.default(1),
    maxProcesses: field.maxProcesses.default(256),
  },
  "Limits",
);

const blockedPatterns = strict(
  {
    cardNumbers: field.flag("Block card numbers").default(true),
    nationalIds: field.flag("Block national ids").default(true),
    custom: field.custom.default([]),
  },
  "Blocked patterns",
);

const clipboard = strict(
  {
    direction: field.direction.default("in"),
    maxBytes: field.maxBytes.default(4096),
    blockedPatterns: blockedPatterns.prefault({}),
  },
  "Clipboard",
);

/**
 * A clipboard policy on its own, as a template's `clipboard`, an agent's `clipboard_policy` and the
 * `session/request` that hands it to the agent all carry it (the agent enforces it).
 */
export const clipboardPolicy = clipboard;
export type ClipboardPolicy = z.output<typeof clipboardPolicy>;

/** A desk template; every field but `name` has a default. */
export const deskTemplate = strict(
  {
    name: field.name,
    resolution: field.resolution.default("1366x768"),
    programs: field.programs.default(() => DEFAULT_DESK_PROGRAMS.map((argv) => [...argv])),
    limits: limits.prefault({}),
    egress: field.egress.default("none"),
    clipboard: clipboard.prefault({}),
    /** Whether the desk's session is recorded: never, always, or when an interviewer presses Record. */
    recording: field.recording.default("choice"),
    ttlMinutes: field.ttlMinutes.default(60),
  },
  "A desk template",
);
export type DeskTemplate = z.output<typeof deskTemplate>;
export type DeskTemplateInput = z.input<typeof deskTemplate>;

/** Changes to a built-in template for one desk: any field but the name, nested ones field by field. */
export const deskTemplateOverrides = strict(
  {
    resolution: field.resolution.optional(),
    programs: field.programs.optional(),
    limits: strict(
      {
        memoryMiB: field.memoryMiB.optional(),
        cpus: field.cpus.optional(),
        maxProcesses: field.maxProcesses.optional(),
      },
      "Limits",
    ).optional(),
    egress: field.egress.optional(),
    recording: field.recording.optional(),
    clipboard: strict(
      {
        direction: field.direction.optional(),
        maxBytes: field.maxBytes.optional(),
        blockedPatterns: strict(
          {
            cardNumbers: field.flag("Block card numbers").optional(),
            nationalIds: field.flag("Block national ids").optional(),
            custom: field.custom.optional(),
          },
          "Blocked patterns",
        ).optional(),
      },
      "Clipboard",
    ).optional(),
    ttlMinutes: field.ttlMinutes.optional(),
  },
  "Template overrides",
);
export type DeskTemplateOverrides = z.output<typeof deskTemplateOverrides>;

export interface DeskTemplateIssue {
  /** Dotted path to the field, e.g. `limits.memoryMiB`; empty for the template as a whole. */
  path: string;
  message: string;
}

/** A template refused: the message names each bad field and says what it must be. */
export class DeskTemplateError extends Error {
  readonly issues: DeskTemplateIssue[];
  constructor(issues: DeskTemplateIssue[]) {
    super(
      `Invalid desk template — ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")}`,
    );
    this.name = "DeskTemplateError";
    this.issues = issues;
  }
}

/** The template with its defaults filled in; throws DeskTemplateError naming every bad field. */
export function parseDeskTemplate(input: unknown): DeskTemplate {
  const result = deskTemplate.safeParse(input);
  if (result.success) return result.data;
  throw new DeskTemplateError(
    result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  );
}

/**
 * `base` with `overrides` applied: nested objects field by field, lists replaced whole. The result
 * is checked again, so it is always a valid template.
 */
export function applyDeskTemplateOverrides(
  base: DeskTemplate,
  overrides: DeskTemplateOverrides,
): DeskTemplate {
  const { limits, clipboard, ...top } = overrides;
  const { blockedPatterns, ...clip } = clipboard ?? {};
  return parseDeskTemplate({
    ...base,
    ...given(top),
    limits: { ...base.limits, ...given(limits) },
    clipboard: {
      ...base.clipboard,
      ...given(clip),
      blockedPatterns: { ...base.clipboard.blockedPatterns, ...given(blockedPatterns) },
    },
  });
}

// A field sent as `undefined` keeps the base's value rather than falling back to the default.
const given = (fields: object = {}) =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

/** The templates every installation has. `interview`: the defaults, a terminal and an editor. */
export const BUILT_IN_DESK_TEMPLATES: Readonly<Record<string, DeskTemplate>> = Object.freeze({
  interview: parseDeskTemplate({ name: "interview" }),
});

export const DEFAULT_DESK_TEMPLATE = "interview";

/** The built-in templates, by name. */
export function listBuiltInDeskTemplates(): DeskTemplate[] {
  return Object.values(BUILT_IN_DESK_TEMPLATES).map((t) => structuredClone(t));
}

/** The built-in template `name` (a copy to change freely), or undefined. */
export function builtInDeskTemplate(name: string): DeskTemplate | undefined {
  const template = Object.hasOwn(BUILT_IN_DESK_TEMPLATES, name) ? BUILT_IN_DESK_TEMPLATES[name] : undefined;
  return template && structuredClone(template);
}
