/** Durations for people: "13d 23h", "45m", "2h 5m" (the largest two units). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0m';
  const units: readonly [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [name, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || parts.length > 0) parts.push(`${count}${name}`);
  }
  const shown = parts.filter((part, i) => i < 2 && !(i === 1 && part.startsWith('0')));
  return shown.length === 0 ? '1m' : shown.join(' ');
}
