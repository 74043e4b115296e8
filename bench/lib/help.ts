/** `--help` / `-h` for the bench commands: prints the text and exits 0 before the command starts anything. */
export function answerHelp(text: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  process.stdout.write(`${text.trim()}\n`);
  process.exit(0);
}
