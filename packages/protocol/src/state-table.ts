/**
 * A state machine as a table (after pion/webrtc's signalingstate.go): each named transition lists
 * the states it may start from and the state it leads to. The one lookup every table in the product
 * uses (session, participant, connection, agent session, viewer); an illegal move throws the
 * table's own error, never a silent no-op.
 */
export type TransitionTable<S extends string> = Record<
  string,
  { readonly from: readonly S[]; readonly to: S }
>;

export interface StateMachine<S extends string, T extends string> {
  /** Whether `transition` may start from `from`. */
  can(from: S, transition: T): boolean;
  /** The state `transition` leads to from `from`; throws the table's error when it may not. */
  next(from: S, transition: T): S;
}

export function stateMachine<S extends string, T extends string>(
  table: Record<T, { readonly from: readonly S[]; readonly to: S }>,
  illegal: (from: S, transition: T) => Error,
): StateMachine<S, T> {
  const can = (from: S, transition: T) => table[transition].from.includes(from);
  return {
    can,
    next(from, transition) {
      if (!can(from, transition)) throw illegal(from, transition);
      return table[transition].to;
    },
  };
}
