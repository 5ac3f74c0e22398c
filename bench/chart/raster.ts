import { glyph, GLYPH_HEIGHT, GLYPH_WIDTH } from './font.js';
import { encodePng } from './png.js';

/** An RGB raster with the few primitives the charts need: filled rectangles, thick lines, markers, text. */
export type Rgb = readonly [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];
export const GREY: Rgb = [200, 200, 200];
export const DARK_GREY: Rgb = [90, 90, 90];

export class Canvas {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return; // clipped
    this.pixels.set(c, (y * this.width + x) * 3);
  }

  get(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 3;
    return [this.pixels[i]!, this.pixels[i + 1]!, this.pixels[i + 2]!];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.pixels.set(c, (yy * this.width + xx) * 3);
  }

  /** A line `thickness` pixels wide (square pen), stepping along the longer axis. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const half = (thickness - 1) / 2;
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      this.fillRect(x - half, y - half, thickness, thickness, c);
    }
  }

  /** A dashed horizontal or vertical guide (grid lines). */
  dashed(x0: number, y0: number, x1: number, y1: number, c: Rgb, dash = 4): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= steps; i++) {
      if (Math.floor(i / dash) % 2 === 1) continue;
      this.set(x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps, c);
    }
  }

  marker(x: number, y: number, c: Rgb, size = 7): void {
    this.fillRect(x - size / 2, y - size / 2, size, size, c);
  }

  /** Draws `s` with its top-left corner at (x, y); returns the width drawn. */
  text(x: number, y: number, s: string, c: Rgb = BLACK, scale = 2): number {
    let cx = Math.round(x);
    for (const ch of s) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (rows[r]![col]) this.fillRect(cx + col * scale, Math.round(y) + r * scale, scale, scale, c);
        }
      }
      cx += (GLYPH_WIDTH + 1) * scale;
    }
    return cx - Math.round(x);
  }

  toPng(): Buffer {
    return encodePng(this.width, this.height, this.pixels);
  }
}

export function textWidth(s: string, scale = 2): number {
  return [...s].length * (GLYPH_WIDTH + 1) * scale - (s.length ? scale : 0);
}

export const textHeight = (scale = 2) => GLYPH_HEIGHT * scale;
