import { describe, expect, it } from "vitest";
import { clamp, initialCrop, MAX_ZOOM, outputSide, pan, sourceRect, zoomTo } from "../src/lib/crop";

describe("avatar crop", () => {
  it("starts with the centred square of a landscape picture", () => {
    const s = initialCrop(1200, 800, 300);
    expect(sourceRect(s)).toEqual({ x: 200, y: 0, size: 800 });
    expect(outputSide(s)).toBe(512);
  });

  it("starts with the centred square of a portrait picture", () => {
    expect(sourceRect(initialCrop(400, 1000, 200))).toEqual({ x: 0, y: 300, size: 400 });
  });

  it("never lets the window leave the picture when dragged", () => {
    const s = initialCrop(1200, 800, 300);
    expect(sourceRect(pan(s, 10_000, 0)).x).toBe(0);
    expect(sourceRect(pan(s, -10_000, 0)).x).toBe(400);
    expect(sourceRect(pan(s, 0, 50)).y).toBe(0); // no room to move a full-height crop
  });

  it("zooms around the window's centre and keeps the zoom in range", () => {
    const s = initialCrop(1000, 1000, 250);
    const zoomed = zoomTo(s, 2);
    expect(sourceRect(zoomed)).toEqual({ x: 250, y: 250, size: 500 });
    expect(zoomTo(s, 99).zoom).toBe(MAX_ZOOM);
    expect(zoomTo(s, 0.1).zoom).toBe(1);
    expect(outputSide(zoomTo(s, 4))).toBe(250); // a small crop is not enlarged
  });

  it("zooms around a chosen point of the window", () => {
    const s = initialCrop(1000, 1000, 200);
    const rect = sourceRect(zoomTo(s, 2, 0, 0)); // the top-left corner stays put
    expect(rect).toEqual({ x: 0, y: 0, size: 500 });
  });

  it("zooming out again snaps the picture back over the window", () => {
    const s = zoomTo(pan(zoomTo(initialCrop(800, 600, 300), 3), -500, -500), 1);
    expect(clamp(s)).toEqual(s);
    expect(sourceRect(s).size).toBe(600);
  });
});
