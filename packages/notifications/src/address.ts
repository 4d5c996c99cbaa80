/**
 * Email addresses as they go into a To header. Anything that could add a header or a second
 * recipient is refused, so that a name or address taken from the Platform API cannot inject one.
 */

export type AddressCheck = { ok: true; address: string } | { ok: false; reason: string };

// RFC 5322 atext: the characters of a dot-atom local part; no quotes, comments or specials.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const MAX_NAME_LENGTH = 200;

/** The first character that is a control or invisible direction character, as "U+000D". */
function controlCharacter(value: string): string | null {
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
    const separator = c === 0x2028 || c === 0x2029;
    const direction = (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    if (control || separator || direction) return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return null;
}

function checkAddrSpec(email: string): string | null {
  const control = controlCharacter(email);
  if (control) return `the address contains a control character (${control})`;
  if (email === '') return 'the address is empty';
  if (/[,;<>]/.test(email))
    return 'the address must be a single plain address (no commas, semicolons or angle brackets)';
  if (/\s/.test(email)) return 'the address contains whitespace';
  if (/[^\x21-\x7e]/.test(email)) return 'the address contains non-ASCII characters';
  if (email.length > 254) return 'the address is longer than 254 characters';
  const at = email.indexOf('@');
  if (at < 0 || at !== email.lastIndexOf('@')) return 'the address must contain exactly one @';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return `"${local}" is not a plain local part`;
  if (!domain.split('.').every((label) => DOMAIN_LABEL.test(label)))
    return `"${domain}" is not a domain name`;
  return null;
}

/** RFC 2047 encoded words of at most 75 characters, split on character boundaries. */
function encodedWords(name: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of name) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ');
}

/** A display name as a quoted string (quotes and backslashes escaped), or encoded words if not ASCII. */
function displayName(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name.replace(/[\\"]/g, '\\$&')}"`;
  return encodedWords(name);
}

/** Checks one recipient and formats it for a To header: `"Ada Lovelace" <ada@example.com>`. */
export function checkAddress(email: string, name?: string): AddressCheck {
  const problem = checkAddrSpec(email);
  if (problem) return { ok: false, reason: problem };
  if (name === undefined || name.trim() === '') return { ok: true, address: email };
  const control = controlCharacter(name);
  if (control) return { ok: false, reason: `the name contains a control character (${control})` };
  if (name.length > MAX_NAME_LENGTH)
    return { ok: false, reason: `the name is longer than ${MAX_NAME_LENGTH} characters` };
  return { ok: true, address: `${displayName(name.trim())} <${email}>` };
}
