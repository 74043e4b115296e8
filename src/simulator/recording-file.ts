/** What a recording URL serves: half a second of silence as a WAV (8 kHz, 16-bit mono PCM). */

let cached: Buffer | null = null;

export function silentWav(): Buffer {
  if (cached !== null) return cached;
  const sampleRate = 8000;
  const dataBytes = sampleRate; // 0.5 s x 2 bytes per sample
  const wav = Buffer.alloc(44 + dataBytes);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + dataBytes, 4);
  wav.write('WAVE', 8, 'ascii');
  wav.write('fmt ', 12, 'ascii');
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * 2, 28); // byte rate
  wav.writeUInt16LE(2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(dataBytes, 40);
  cached = wav;
  return wav;
}
