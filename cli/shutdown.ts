/**
 * Runs `stop` under a deadline: if it has not settled within `deadlineMs`, `onExpired` runs (it exits the
 * process). The timer never holds the process open by itself. Resolves true when `stop` finished in time.
 */
export function stopWithin(
  stop: () => Promise<void>,
  deadlineMs: number,
  onExpired: () => void,
): Promise<boolean> {
  let settled = false;
  const timer = setTimeout(() => {
    if (!settled) onExpired();
  }, deadlineMs);
  timer.unref?.();
  return stop().then(
    () => {
      settled = true;
      clearTimeout(timer);
      return true;
    },
    () => {
      settled = true;
      clearTimeout(timer);
      return false;
    },
  );
}
