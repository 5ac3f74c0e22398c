import { expect } from 'chai';
import { inflateSync } from 'node:zlib';
import { barChart, formatTick, lineChart, linearTicks, logTicks, PALETTE } from './charts.js';
import { glyph, glyphSource, GLYPH_HEIGHT, GLYPH_ROWS, GLYPH_WIDTH, hasGlyph } from './font.js';
import { Canvas, textWidth, type Rgb } from './raster.js';

/** Decodes what encodePng writes (one IDAT, filter 0) back to RGB, to check the file holds the canvas. */
function decode(png: Buffer): { width: number; height: number; rgb: Buffer } {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const idatLen = png.readUInt32BE(33);
  const raw = inflateSync(png.subarray(41, 41 + idatLen));
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) raw.copy(rgb, y * width * 3, y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1));
  return { width, height, rgb };
}

function count(c: Canvas, color: Rgb): number {
  let n = 0;
  for (let i = 0; i < c.pixels.length; i += 3) if (c.pixels[i] === color[0] && c.pixels[i + 1] === color[1] && c.pixels[i + 2] === color[2]) n++;
  return n;
}

describe('bench/chart', () => {
  it('every glyph of the font is 7 rows of 5 cells, 9 for the letters with descenders', () => {
    for (const [ch, rows] of Object.entries(glyphSource())) {
      const r = rows.split('|');
      expect(r, ch).to.have.length('gjpqy'.includes(ch) ? GLYPH_HEIGHT : GLYPH_ROWS);
      expect(glyph(ch), ch).to.have.length(GLYPH_HEIGHT);
      for (const row of r) expect(row, `${ch}: ${row}`).to.match(new RegExp(`^[#.]{${GLYPH_WIDTH}}$`));
    }
  });

  it('has every character the charts write (letters, digits, units) and draws ? for others', () => {
    for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:-+/()%=<>×µ≤') expect(hasGlyph(ch), ch).to.equal(true);
    expect(glyph('€')).to.deep.equal(glyph('?'));
  });

  it('text draws set cells in the colour given and reports its width', () => {
    const c = new Canvas(40, 20);
    const w = c.text(1, 1, 'I', [0, 0, 0], 1);
    expect(w).to.equal(GLYPH_WIDTH + 1);
    expect(c.get(2, 1)).to.deep.equal([0, 0, 0]); // top bar of I
    expect(c.get(1, 3)).to.deep.equal([255, 255, 255]);
    expect(textWidth('ab', 2)).to.equal(2 * 12 - 2);
  });

  it('linear ticks are round steps covering the range', () => {
    expect(linearTicks(0, 10)).to.deep.equal([0, 2, 4, 6, 8, 10]);
    expect(linearTicks(0, 0.7, 7)).to.deep.equal([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    const t = linearTicks(3, 47);
    expect(t[0]).to.be.at.most(3);
    expect(t[t.length - 1]).to.be.at.least(47);
  });

  it('log ticks are 1, 2, 5 per decade (1 per decade over wide ranges)', () => {
    expect(logTicks(0.3, 40)).to.deep.equal([0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks(0.001, 100)).to.deep.equal([0.001, 0.01, 0.1, 1, 10, 100]);
  });

  it('formats ticks compactly', () => {
    expect([0, 0.25, 1, 1500, 10000, 2_000_000].map(formatTick)).to.deep.equal(['0', '0.25', '1', '1500', '10k', '2M']);
  });

  it('a line chart is a decodable PNG of the requested size showing each series in its colour', () => {
    const c = lineChart({ title: 'push to artifact', xLabel: 'seconds', yLabel: 'fraction', xLog: true, series: [{ name: 'a', points: [[0.5, 0.1], [1, 0.5], [2, 1]] }, { name: 'b', points: [[10, 0.2], [40, 1]], markers: true }], width: 400, height: 300 });
    expect(count(c, PALETTE[0]!)).to.be.greaterThan(50);
    expect(count(c, PALETTE[1]!)).to.be.greaterThan(50);
    const png = c.toPng();
    const d = decode(png);
    expect([d.width, d.height]).to.deep.equal([400, 300]);
    expect(d.rgb.equals(Buffer.from(c.pixels))).to.equal(true);
  });

  it('a bar chart draws taller bars for larger values', () => {
    const c = barChart({ title: 'convergence', yLabel: 's', categories: ['1000'], series: [{ name: 'operator', values: [10] }, { name: 'baseline', values: [5] }], width: 300, height: 300 });
    expect(count(c, PALETTE[0]!)).to.be.greaterThan(count(c, PALETTE[1]!));
    expect(decode(c.toPng()).rgb.length).to.equal(300 * 300 * 3);
  });

  it('an empty series list still renders axes (a phase that measured nothing)', () => {
    const c = lineChart({ title: 'nothing', xLabel: 'x', yLabel: 'y', series: [], width: 200, height: 150 });
    expect(count(c, [0, 0, 0])).to.be.greaterThan(100);
  });
});
