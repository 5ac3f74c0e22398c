import { expect } from 'chai';
import { inflateSync } from 'node:zlib';
import { crc32, encodePng, PNG_SIGNATURE } from './png.js';

interface Chunk {
  type: string;
  data: Buffer;
  crc: number;
}

/** Splits a PNG into its chunks (the test's own reader, independent of the encoder). */
function chunks(png: Buffer): Chunk[] {
  const out: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    out.push({ type, data: png.subarray(at + 8, at + 8 + len), crc: png.readUInt32BE(at + 8 + len) });
    at += 12 + len;
  }
  return out;
}

describe('bench/chart/png', () => {
  const W = 3;
  const H = 2;
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const png = encodePng(W, H, rgb);

  it('crc32 matches the standard check value of "123456789"', () => {
    expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
    expect(crc32(Buffer.from('1234'), Buffer.from('56789'))).to.equal(0xcbf43926);
  });

  it('starts with the PNG signature and has IHDR, IDAT, IEND in that order', () => {
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).to.equal(true);
    expect(chunks(png).map((c) => c.type)).to.deep.equal(['IHDR', 'IDAT', 'IEND']);
  });

  it('IHDR says width, height, 8-bit truecolour, no interlace', () => {
    const ihdr = chunks(png)[0]!.data;
    expect(ihdr.length).to.equal(13);
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]]).to.deep.equal([W, H, 8, 2, 0, 0, 0]);
  });

  it('every chunk carries the CRC-32 of its type and data', () => {
    for (const c of chunks(png)) expect(c.crc, c.type).to.equal(crc32(Buffer.from(c.type, 'ascii'), c.data));
  });

  it('IDAT inflates (zlib) to filter-0 scanlines holding exactly the pixels given', () => {
    const raw = inflateSync(chunks(png)[1]!.data);
    expect(raw.length).to.equal(H * (1 + W * 3));
    for (let y = 0; y < H; y++) {
      const row = raw.subarray(y * (1 + W * 3), (y + 1) * (1 + W * 3));
      expect(row[0]).to.equal(0);
      expect([...row.subarray(1)]).to.deep.equal([...rgb.subarray(y * W * 3, (y + 1) * W * 3)]);
    }
  });

  it('refuses a pixel buffer of the wrong size', () => {
    expect(() => encodePng(2, 2, new Uint8Array(5))).to.throw(RangeError);
    expect(() => encodePng(0, 2, new Uint8Array(0))).to.throw(RangeError);
  });
});
