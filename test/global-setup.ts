import { execFileSync } from 'node:child_process';

// End-to-end tests run the compiled CLI (what `npx tailsift` runs), so build once first.
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
