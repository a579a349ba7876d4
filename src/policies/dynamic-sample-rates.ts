/**
 * Per-key sample rates (keep 1 in N) that keep about `goalCount` of the counted traces in
 * total, giving frequent keys sparser rates and rare keys rate 1. The allocation of
 * Honeycomb's dynamic samplers (dynsampler-go, used by Refinery):
 *
 * - each key's share of `goalCount` is proportional to log10 of its count, and at least one
 *   trace, so a key a thousand times more frequent gets only three times the share;
 * - a key whose count fits in its share keeps everything (rate 1); what it leaves unused is
 *   spread over the keys after it, so the total still approaches the goal;
 * - otherwise its rate is count / share, rounded up.
 *
 * Keys are visited in sorted order so the same counts always give the same rates.
 */
export function logShareSampleRates(counts: ReadonlyMap<string, number>, goalCount: number): Map<string, number> {
  const rates = new Map<string, number>();
  let logSum = 0;
  for (const count of counts.values()) logSum += Math.log10(Math.max(1, count));
  // Every key was seen at most once: there is nothing to thin out.
  if (!(logSum > 0)) {
    for (const key of counts.keys()) rates.set(key, 1);
    return rates;
  }
  const goalPerLog = goalCount / logSum;
  const keys = [...counts.keys()].sort();
  let unused = 0;
  let keysLeft = keys.length;
  for (const key of keys) {
    const count = Math.max(1, counts.get(key) as number);
    let share = Math.max(1, Math.log10(count) * goalPerLog);
    const handedOn = unused / keysLeft;
    share += handedOn;
    unused -= handedOn;
    keysLeft--;
    if (count <= share) {
      rates.set(key, 1);
      unused += share - count;
    } else {
      const rate = Math.ceil(count / share);
      rates.set(key, rate);
      unused += share - count / rate;
    }
  }
  return rates;
}
