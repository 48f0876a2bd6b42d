import { describe, expect, it } from "vitest";
import { ChangedRows, NO_ROWS, unionRows } from "./changed-rows.ts";

describe("ChangedRows", () => {
  it("says which rows changed between two hand-outs: what was read, and where the pointer was and is", () => {
    const rows = new ChangedRows();
    rows.wrote(0, 720);
    rows.handedOut(1);
    rows.wrote(100, 120);
    rows.handedOut(2);
    rows.handedOut(3, { top: 300, bottom: 316 }, { top: 310, bottom: 326 });
    rows.wrote(50, 60);
    rows.wrote(110, 130);
    rows.handedOut(4);

    expect(rows.between(0, 1)).toEqual({ top: 0, bottom: 720 });
    expect(rows.between(1, 2)).toEqual({ top: 100, bottom: 120 });
    expect(rows.between(2, 3)).toEqual({ top: 300, bottom: 326 });
    expect(rows.between(3, 4)).toEqual({ top: 50, bottom: 130 });
    expect(rows.between(1, 4)).toEqual({ top: 50, bottom: 326 });
    expect(rows.between(4, 4)).toEqual(NO_ROWS);
  });

  it("a hand-out with nothing read and no pointer changed no row", () => {
    const rows = new ChangedRows();
    rows.handedOut(1);
    rows.handedOut(2);
    expect(rows.between(1, 2)).toEqual(NO_ROWS);
  });

  it("does not know what it no longer keeps, nor the future, nor across a gap in the numbers", () => {
    const rows = new ChangedRows();
    for (let n = 1; n <= 40; n++) {
      rows.wrote(n, n + 1);
      rows.handedOut(n);
    }
    expect(rows.between(1, 40)).toBeUndefined();
    expect(rows.between(30, 40)).toEqual({ top: 31, bottom: 41 });
    expect(rows.between(39, 41)).toBeUndefined();
    expect(rows.between(40, 39)).toBeUndefined();

    rows.handedOut(45);
    expect(rows.between(40, 45)).toBeUndefined();
    expect(rows.between(44, 45)).toEqual(NO_ROWS);
  });

  it("unions spans, an empty one adding nothing", () => {
    expect(unionRows({ top: 5, bottom: 9 }, { top: 1, bottom: 3 })).toEqual({ top: 1, bottom: 9 });
    expect(unionRows(NO_ROWS, { top: 1, bottom: 3 })).toEqual({ top: 1, bottom: 3 });
    expect(unionRows({ top: 5, bottom: 9 }, { top: 4, bottom: 4 })).toEqual({ top: 5, bottom: 9 });
    expect(unionRows({ top: 5, bottom: 9 }, undefined)).toEqual({ top: 5, bottom: 9 });
  });
});
