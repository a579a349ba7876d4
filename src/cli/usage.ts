export const USAGE = `Usage: tailsift <command> [options]

Commands:
  run [--config FILE]        run the engine (with no file: the embedded defaults)
  validate FILE...           check engine configs and policy files
  replay --policies FILE --input PATH...   try a policy file on captured traffic, in event time
         [--out FILE] [--report FILE] [--summary FILE] [--compare FILE2]
  generate --target URL      send synthetic traces (URL: http://host:port, kafka://host:port/topic, file:PATH)
           [--scenario rag|shop|bench] [--rate TRACES_PER_S] [--duration SECONDS] [--seed N]

Exit codes: 0 ok, 1 invalid input or config, 2 usage error.
`;

/** Prints a one-line usage error and returns exit code 2. */
export function usageError(message: string): number {
  process.stderr.write(`tailsift: ${message}\nRun 'tailsift --help' for usage.\n`);
  return 2;
}
