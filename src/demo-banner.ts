/** The demo's sign-in details as a framed block a person sees at once in a terminal (main.ts prints it). */
export interface DemoBannerInput {
  url: string;
  extension: string;
  password: string;
  otherExtensions: string;
  adminApiKey: string | null;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function demoBanner(d: DemoBannerInput): string {
  const rows = [
    'HoduPBX CRM bridge - demo mode (a built-in PBX simulator, state in memory)',
    '',
    `  1. open       ${d.url}`,
    `  2. sign in    extension ${d.extension}, password ${d.password}`,
    '  3. press      Simulate a call',
    '',
    '  other demo extensions (number/password):',
    ...chunks(d.otherExtensions.split(', '), 4).map((c) => `    ${c.join(', ')}`),
    `  admin API key for this run: ${d.adminApiKey ?? 'from ADMIN_API_KEY'}`,
  ];
  const width = Math.max(...rows.map((r) => r.length));
  const line = '─'.repeat(width + 2);
  return [`┌${line}┐`, ...rows.map((r) => `│ ${r.padEnd(width)} │`), `└${line}┘`].join('\n');
}
