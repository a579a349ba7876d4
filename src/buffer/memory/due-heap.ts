/**
 * A binary min-heap of (dueMs, traceId). Entries are never updated in place: when a trace's
 * due time moves earlier (root span arrived) or it is claimed, the old entry stays and is
 * skipped on pop by the caller's staleness check. That keeps every operation O(log n).
 */
export class DueHeap {
  private readonly due: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.due.length;
  }

  push(dueMs: number, traceId: string): void {
    this.due.push(dueMs);
    this.ids.push(traceId);
    this.siftUp(this.due.length - 1);
  }

  peekDue(): number | undefined {
    return this.due[0];
  }

  peekId(): string | undefined {
    return this.ids[0];
  }

  pop(): void {
    const last = this.due.length - 1;
    if (last < 0) return;
    this.swap(0, last);
    this.due.pop();
    this.ids.pop();
    if (this.due.length > 0) this.siftDown(0);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.due[parent] <= this.due[i]) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.due.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < n && this.due[l] < this.due[min]) min = l;
      if (r < n && this.due[r] < this.due[min]) min = r;
      if (min === i) return;
      this.swap(i, min);
      i = min;
    }
  }

  private swap(a: number, b: number): void {
    const d = this.due[a];
    this.due[a] = this.due[b];
    this.due[b] = d;
    const id = this.ids[a];
    this.ids[a] = this.ids[b];
    this.ids[b] = id;
  }
}
