// Phone numbers for people. The bridge sends E.164 (`+919824740472`) where it could read the number, else the
// digits as received; this groups E.164 numbers the way they are usually written and leaves anything else as is.

const TWO_DIGIT_CODES = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84',
  '86', '90', '91', '92', '93', '94', '95', '98',
]);

function countryCode(digits) {
  if (digits[0] === '1' || digits[0] === '7') return digits.slice(0, 1);
  if (TWO_DIGIT_CODES.has(digits.slice(0, 2))) return digits.slice(0, 2);
  return digits.slice(0, 3);
}

/** Groups of three from the left, the last group taking up to four digits: "2345678901" -> "234 567 8901". */
function groups(n) {
  const out = [];
  let rest = n;
  while (rest.length > 4) {
    out.push(rest.slice(0, 3));
    rest = rest.slice(3);
  }
  out.push(rest);
  return out.join(' ');
}

/** "+14155550132" -> "+1 415-555-0132", "+919824740472" -> "+91 98247 40472", "+442079460958" -> "+44 20 7946 0958". */
export function formatNumber(value) {
  if (typeof value !== 'string' || value === '') return '';
  const m = /^\+(\d{7,15})$/.exec(value);
  if (!m) return value;
  const digits = m[1];
  const cc = countryCode(digits);
  const n = digits.slice(cc.length);
  if (cc === '1' && n.length === 10) return `+1 ${n.slice(0, 3)}-${n.slice(3, 6)}-${n.slice(6)}`;
  if (cc === '91' && n.length === 10) {
    return /^[6-9]/.test(n) ? `+91 ${n.slice(0, 5)} ${n.slice(5)}` : `+91 ${n.slice(0, 2)} ${n.slice(2, 6)} ${n.slice(6)}`;
  }
  if (cc === '44' && n.length === 10) {
    if (n.startsWith('2')) return `+44 ${n.slice(0, 2)} ${n.slice(2, 6)} ${n.slice(6)}`;
    return `+44 ${n.slice(0, 4)} ${n.slice(4)}`;
  }
  return `+${cc} ${groups(n)}`;
}
