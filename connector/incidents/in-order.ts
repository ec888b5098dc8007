/**
 * Runs steps in the order their tickets were taken, whatever order the work before them finishes in.
 *
 * The pipeline scores several micro-batches at once (the worker pool may finish them out of order), but the
 * incident tracker must see each partition's records in offset order. Each batch takes a ticket when it starts
 * (batches start in fetch order), and runs its tracker step through it: a step waits for every earlier
 * ticket's step, or for that ticket's release when its batch failed before getting there.
 */
export interface Ticket {
  /** Runs `step` after every earlier ticket has run or been released; then releases this one. */
  run<T>(step: () => T): Promise<T>;
  /** Gives the turn up without running (idempotent; a no-op once run). */
  release(): void;
}

export class InOrder {
  private tail: Promise<void> = Promise.resolve();

  ticket(): Ticket {
    const previous = this.tail;
    let done!: () => void;
    const mine = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.tail = mine;
    let settled = false;
    const release = () => {
      if (settled) return;
      settled = true;
      // Our successor may go only once our predecessors have gone too.
      void previous.then(done);
    };
    return {
      run: async <T>(step: () => T): Promise<T> => {
        if (settled) throw new Error('ticket already used');
        await previous;
        try {
          return step();
        } finally {
          settled = true;
          done();
        }
      },
      release,
    };
  }
}
