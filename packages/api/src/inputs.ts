/** Input pieces shared by the routers: ids, pagination, bounded text. */
import { z } from "zod";

export const id = (what: string) => z.uuid({ error: `${what} must be a valid id` });

export const text = (label: string, max: number) =>
  z
    .string({ error: `${label} must be text` })
    .trim()
    .min(1, { error: `${label} is required` })
    .max(max, { error: `${label} must be at most ${max} characters` });

export const pageInput = {
  limit: z.number().int().min(1).max(100).default(25),
  offset: z.number().int().min(0).max(1_000_000).default(0),
};

/** Cursor pagination over the audit log: events with a seq below `before`, newest first. */
export const cursorInput = {
  limit: z.number().int().min(1).max(200).default(50),
  before: z.number().int().positive().optional(),
};
