/**
 * The two renderings of an email document: plain text readable at 72 columns, and inline-styled HTML
 * (email clients drop <style> blocks). Documents hold plain text only; every value is escaped here,
 * at the one place where HTML is written.
 */

export type Block =
  | { kind: 'lead'; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'heading'; text: string }
  | { kind: 'usageBar'; percent: number; label: string }
  | { kind: 'facts'; rows: readonly (readonly [label: string, value: string])[] }
  | { kind: 'list'; title: string; items: readonly string[] }
  | { kind: 'command'; text: string }
  | { kind: 'button'; label: string; href: string };

export interface EmailDocument {
  subject: string;
  /** Short severity label shown above the lead: "Notice", "Warning", "Action needed". */
  badge: string;
  /** The severity's colour, for the top border, badge and usage bar. */
  accent: string;
  blocks: readonly Block[];
  footer: string;
}

const TEXT_WIDTH = 72;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Word-wraps one paragraph; a word longer than the width (a URL) stays whole on its own line. */
function wrap(text: string, width = TEXT_WIDTH, indent = '', hangingIndent = indent): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line === '') line = (lines.length === 0 ? indent : hangingIndent) + word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = hangingIndent + word;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

const BAR_WIDTH = 40;

function textBlock(block: Block): string[] {
  switch (block.kind) {
    case 'lead':
    case 'paragraph':
      return wrap(block.text);
    case 'heading':
      return [...wrap(block.text), '-'.repeat(Math.min(TEXT_WIDTH, block.text.length))];
    case 'usageBar': {
      const filled = Math.round((Math.min(100, Math.max(0, block.percent)) / 100) * BAR_WIDTH);
      return [`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${block.label}`];
    }
    case 'facts': {
      const pad = Math.max(...block.rows.map(([label]) => label.length)) + 2;
      return block.rows.flatMap(([label, value]) =>
        wrap(value, TEXT_WIDTH, `${label}:`.padEnd(pad), ' '.repeat(pad)),
      );
    }
    case 'list':
      return [...wrap(block.title), ...block.items.flatMap((item) => wrap(item, TEXT_WIDTH, '  - ', '    '))];
    case 'command':
      // Never wrapped: the customer copies it as one line.
      return [`    ${block.text}`];
    case 'button':
      return [`${block.label}:`, block.href];
  }
}

export function renderText(doc: EmailDocument): string {
  // A heading sits directly on the block it introduces; other blocks are a blank line apart.
  const body = doc.blocks
    .map(
      (b, i) =>
        textBlock(b).join('\n') + (i === doc.blocks.length - 1 ? '' : b.kind === 'heading' ? '\n' : '\n\n'),
    )
    .join('');
  return `${body}\n\n-- \n${wrap(doc.footer).join('\n')}\n`;
}

const FONT = "-apple-system,'Segoe UI',Helvetica,Arial,sans-serif";
const MUTED = '#6b7280';

function htmlBlock(block: Block, accent: string): string {
  switch (block.kind) {
    case 'lead':
      return `<p style="margin:0 0 16px;font-size:18px;font-weight:600;line-height:1.4;">${escapeHtml(block.text)}</p>`;
    case 'paragraph':
      return `<p style="margin:0 0 16px;">${escapeHtml(block.text)}</p>`;
    case 'heading':
      return `<h2 style="margin:24px 0 8px;font-size:16px;font-weight:600;">${escapeHtml(block.text)}</h2>`;
    case 'usageBar': {
      const width = Math.round(Math.min(100, Math.max(0, block.percent)));
      const filled = width > 0 ? `<td width="${width}%" style="background:${accent};height:12px;"></td>` : '';
      const rest = width < 100 ? `<td style="background:#e5e7eb;height:12px;"></td>` : '';
      return (
        `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:0 0 4px;"><tr>${filled}${rest}</tr></table>` +
        `<p style="margin:0 0 12px;font-size:13px;color:${MUTED};">${escapeHtml(block.label)}</p>`
      );
    }
    case 'facts':
      return `<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:0 0 16px;">${block.rows
        .map(
          ([label, value]) =>
            `<tr><td style="padding:2px 16px 2px 0;color:${MUTED};vertical-align:top;white-space:nowrap;">${escapeHtml(label)}</td><td style="padding:2px 0;">${escapeHtml(value)}</td></tr>`,
        )
        .join('')}</table>`;
    case 'list':
      return `<p style="margin:0 0 4px;">${escapeHtml(block.title)}</p><ul style="margin:0 0 16px;padding-left:20px;">${block.items.map((i) => `<li style="margin:0 0 4px;">${escapeHtml(i)}</li>`).join('')}</ul>`;
    case 'command':
      return `<pre style="margin:0 0 16px;padding:10px 12px;background:#111827;color:#f9fafb;border-radius:4px;font-family:Menlo,Consolas,monospace;font-size:13px;white-space:pre-wrap;word-break:break-all;">${escapeHtml(block.text)}</pre>`;
    case 'button':
      return `<p style="margin:24px 0 8px;"><a href="${escapeHtml(block.href)}" style="display:inline-block;padding:10px 18px;background:${accent};color:#ffffff;border-radius:4px;text-decoration:none;font-weight:600;">${escapeHtml(block.label)}</a></p><p style="margin:0 0 16px;font-size:13px;color:${MUTED};word-break:break-all;">${escapeHtml(block.href)}</p>`;
  }
}

export function renderHtml(doc: EmailDocument): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.subject)}</title></head>`,
    `<body style="margin:0;padding:0;background:#f3f4f6;">`,
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;"><tr><td align="center" style="padding:24px 12px;">`,
    `<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="width:100%;max-width:600px;background:#ffffff;border-top:4px solid ${doc.accent};border-radius:6px;font-family:${FONT};font-size:15px;line-height:1.5;color:#1f2937;text-align:left;"><tr><td style="padding:24px 28px;">`,
    `<p style="margin:0 0 8px;font-size:12px;font-weight:600;letter-spacing:0.05em;text-transform:uppercase;color:${doc.accent};">${escapeHtml(doc.badge)}</p>`,
    ...doc.blocks.map((b) => htmlBlock(b, doc.accent)),
    '</td></tr></table>',
    `<p style="margin:16px 0 0;max-width:600px;font-family:${FONT};font-size:12px;color:${MUTED};">${escapeHtml(doc.footer)}</p>`,
    '</td></tr></table>',
    '</body></html>',
    '',
  ].join('\n');
}
