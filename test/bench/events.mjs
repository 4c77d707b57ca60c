/**
 * Resolves with performance.now() at the first bridge event `match` accepts; rejects after `ms`.
 * The time is taken inside the subscriber, so the figure is the event's arrival, not the await.
 */
export function eventArrival(bridge, match, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`timed out waiting for an event (${ms} ms)`));
    }, ms);
    const subscription = bridge.events$.subscribe((event) => {
      if (!match(event)) return;
      const at = performance.now();
      clearTimeout(timer);
      subscription.unsubscribe();
      resolve(at);
    });
  });
}
