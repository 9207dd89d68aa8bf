/** One line of the results table. */
export interface Figure {
  readonly scenario: string;
  /** What was measured, in words. */
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly what: string; readonly value: number; readonly unit: string };
  /** value / baseline.value, where the scenario defines its figure that way. */
  readonly ratio?: number;
  /** In words, e.g. "ratio >= 0.85". */
  readonly target?: string;
  /** null: informational (no target on this line). */
  readonly pass: boolean | null;
  readonly note?: string;
}

export interface ScenarioOutcome {
  readonly id: number;
  readonly name: string;
  readonly figures: Figure[];
  /** Set when the scenario could not run (e.g. needs PostgreSQL) or failed. */
  readonly skipped?: string;
  readonly error?: string;
  readonly seconds: number;
  /** When the scenario finished: with --rerun, scenarios of one results file ran at different times. */
  readonly ranAt?: string;
  /** The commit measured (see RunInfo.commit). */
  readonly commit?: string;
}
