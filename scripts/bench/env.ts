/** The benchmarks' knobs from the environment. */

/** A whole number ≥ `min` from `name`, or `fallback`; anything else ends the benchmark saying so (exit 2). */
export function wholeNumber(name: string, fallback: number, min = 1): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) {
    console.error(`${name} must be a whole number ≥ ${min} (got "${process.env[name]}").`);
    process.exit(2);
  }
  return value;
}
