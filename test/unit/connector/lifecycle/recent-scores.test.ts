// Regression: the score-shift statistic of a drift check compares recent scores with the calibration of the
// champion, so the recent scores must be the champion's own. Scores kept from the model before a swap (or
// given by the next one before the controller follows the swap) read as drift of their own and, with a short
// cooldown, retrain again at once.
import { describe, expect, it } from 'vitest';
import {
  type Champion,
  DEFAULT_LIFECYCLE,
  ModelLifecycle,
} from '../../../../connector/lifecycle/model-lifecycle.js';
import type { ScoredBatch } from '../../../../connector/pipeline/pipeline.js';
import type { ModelRegistry } from '../../../../connector/registry/model-registry.js';
import type { Transport } from '../../../../connector/transport/types.js';
import { silentLogger } from '../../../../core/logger.js';
import type { ArtifactManifest } from '../../../../model/artifact.js';

const D = 2;

function champion(version: string): Champion {
  const manifest = {
    identity: { id: 'm', version, featureNames: ['a', 'b'] },
  } as unknown as ArtifactManifest;
  return { dir: `/nonexistent/${version}`, manifest, registryVersion: `reg-${version}` };
}

let offset = 0;
function batch(version: string, n: number): ScoredBatch {
  const items = Array.from({ length: n }, () => ({
    entity: 'e',
    offset: offset++,
    record: { topic: 't', partition: 0 },
  }));
  return {
    items: items as unknown as ScoredBatch['items'],
    scores: {
      n,
      d: D,
      scores: new Float32Array(n).fill(0.5),
      threshold: new Float32Array(n).fill(1),
      isAnomaly: new Uint8Array(n),
    } as unknown as ScoredBatch['scores'],
    rows: new Float32Array(n * D),
    d: D,
    model: { id: 'm', version, featureNames: ['a', 'b'] } as ScoredBatch['model'],
  };
}

function lifecycle(first: Champion): ModelLifecycle {
  return new ModelLifecycle(
    {
      ...DEFAULT_LIFECYCLE,
      eventsTopic: 'events',
      retrain: { ...DEFAULT_LIFECYCLE.retrain, workDir: '/nonexistent' },
    },
    { transport: {} as Transport, registry: {} as ModelRegistry, logger: silentLogger() },
    first,
  );
}

describe('recent scores across a champion change', () => {
  it('forgets the previous model’s scores when the champion changes', () => {
    const l = lifecycle(champion('v1'));
    l.onScored(batch('v1', 30));
    expect(l.recentScores()).toHaveLength(30);
    l.setChampion(champion('v2'));
    expect(l.recentScores()).toHaveLength(0);
    l.onScored(batch('v2', 7));
    expect(l.recentScores()).toHaveLength(7);
  });

  it('keeps only the champion’s own scores: batches of another model (either side of a swap) are left out', () => {
    const l = lifecycle(champion('v1'));
    l.onScored(batch('v1', 10));
    // The pipeline already scores with v2; the controller has not followed the swap yet.
    l.onScored(batch('v2', 5));
    expect(l.recentScores()).toHaveLength(10);
    l.setChampion(champion('v2'));
    // A batch of v1 still in flight when the champion changed.
    l.onScored(batch('v1', 4));
    l.onScored(batch('v2', 6));
    expect(l.recentScores()).toHaveLength(6);
    // The reservoir takes the rows whichever model scored them: they are features, not scores.
    expect(l.reservoir.size + l.holdout.size).toBe(25);
  });
});
