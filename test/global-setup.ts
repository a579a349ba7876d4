import { execFileSync } from 'node:child_process';

// End-to-end tests run the compiled CLI (what `npx tailsift` runs), so build once first.
// tsc still emits when it finds type errors; the typecheck script is what reports them.
export default function setup(): void {
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
  } catch (err) {
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    console.warn(`build reported problems (tests run on what it emitted):\n${out.slice(0, 2000)}`);
  }
}
