/**
 * Turns taken in the order they were asked for, however the work before each finishes. The pipeline asks for
 * a post-processing turn when it dispatches a batch (dispatch order is each partition's offset order) and
 * waits for it once the batch's raw scores are back: worker scoring may finish batches out of order, but the
 * per-entity state of model/postprocess-stage.ts must see an entity's records in offset order. The incident
 * tracker (connector/incidents) takes its turns the same way, once per batch.
 */
export interface Turn {
  /** Settles when every earlier turn has been released. */
  readonly ready: Promise<void>;
  /**
   * Ends this turn (call it also on failure, or later turns wait for ever; later calls do nothing). A turn
   * released before it was ready (its batch failed early) still lets the next one go only after every earlier
   * turn: order holds however batches fail.
   */
  release(): void;
}

export class OrderedTurns {
  private tail: Promise<void> = Promise.resolve();

  take(): Turn {
    const ready = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => {
      done = resolve;
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      void ready.then(done);
    };
    return { ready, release };
  }
}
