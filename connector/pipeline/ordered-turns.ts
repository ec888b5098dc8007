/**
 * Turns taken in the order they were asked for, however the work before each finishes. The pipeline asks for
 * a post-processing turn when it dispatches a batch (dispatch order is each partition's offset order) and
 * waits for it once the batch's raw scores are back: worker scoring may finish batches out of order, but the
 * per-entity state of model/postprocess-stage.ts must see an entity's records in offset order.
 */
export interface Turn {
  /** Settles when every earlier turn has been released. */
  readonly ready: Promise<void>;
  /** Ends this turn (call exactly once, also on failure, or later turns wait for ever). */
  release(): void;
}

export class OrderedTurns {
  private tail: Promise<void> = Promise.resolve();

  take(): Turn {
    const ready = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { ready, release };
  }
}
