/**
 * The square crop of an avatar: the picture is shown under a square window of `view` CSS
 * pixels, covering it at zoom 1, and moved (x, y: its top-left corner relative to the window)
 * and zoomed by the person. Everything here is plain arithmetic so it can be tested without
 * a browser; the component only draws what it says.
 */
export interface CropState {
  /** The picture's own size in pixels. */
  width: number;
  height: number;
  /** The side of the square window, in CSS pixels. */
  view: number;
  /** 1 (the picture just covers the window) to MAX_ZOOM. */
  zoom: number;
  x: number;
  y: number;
}

export const MAX_ZOOM = 4;
/** The side of the square that is uploaded; the server makes its own 256 px copy from it. */
export const OUTPUT_PX = 512;

/** CSS pixels per picture pixel at this zoom. */
export function scaleOf(s: Pick<CropState, "width" | "height" | "view" | "zoom">): number {
  return (s.view / Math.min(s.width, s.height)) * s.zoom;
}

/** The state with the window kept inside the picture (no empty band can show). */
export function clamp(s: CropState): CropState {
  const zoom = Math.min(MAX_ZOOM, Math.max(1, s.zoom));
  const scale = scaleOf({ ...s, zoom });
  const minX = s.view - s.width * scale;
  const minY = s.view - s.height * scale;
  return { ...s, zoom, x: Math.min(0, Math.max(minX, s.x)), y: Math.min(0, Math.max(minY, s.y)) };
}

/** The picture centred under the window at zoom 1. */
export function initialCrop(width: number, height: number, view: number): CropState {
  const scale = scaleOf({ width, height, view, zoom: 1 });
  return clamp({ width, height, view, zoom: 1, x: (view - width * scale) / 2, y: (view - height * scale) / 2 });
}

/** Moved by (dx, dy) CSS pixels, as a drag or an arrow key does. */
export function pan(s: CropState, dx: number, dy: number): CropState {
  return clamp({ ...s, x: s.x + dx, y: s.y + dy });
}

/** Zoomed to `zoom`, keeping the point of the window at (px, py) (default: its centre) still. */
export function zoomTo(s: CropState, zoom: number, px = s.view / 2, py = s.view / 2): CropState {
  const before = scaleOf(s);
  const next = clamp({ ...s, zoom });
  const after = scaleOf(next);
  // The picture point under (px, py) stays under it.
  const ix = (px - s.x) / before;
  const iy = (py - s.y) / before;
  return clamp({ ...next, x: px - ix * after, y: py - iy * after });
}

/** The square of the picture, in its own pixels, that the window shows. */
export function sourceRect(s: CropState): { x: number; y: number; size: number } {
  const scale = scaleOf(s);
  const size = Math.min(s.view / scale, s.width, s.height);
  const x = Math.min(Math.max(0, -s.x / scale), s.width - size);
  const y = Math.min(Math.max(0, -s.y / scale), s.height - size);
  return { x, y, size };
}

/** The side of the uploaded square: the crop's own size, at most OUTPUT_PX (never enlarged). */
export function outputSide(s: CropState): number {
  return Math.max(1, Math.min(OUTPUT_PX, Math.round(sourceRect(s).size)));
}
