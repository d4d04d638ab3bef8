import { mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import MessageCard from "../src/components/MessageCard.vue";
import { placeUrl, preview } from "../src/lib/format";
import { msg } from "./fakes";

describe("location and contact messages", () => {
  beforeEach(() => setActivePinia(createPinia()));

  it("links a location to a map only for real coordinates", () => {
    expect(placeUrl(35.6812, 139.7671)).toBe("https://www.openstreetmap.org/?mlat=35.6812&mlon=139.7671#map=16/35.6812/139.7671");
    expect(placeUrl(91, 0)).toBeNull();
    expect(placeUrl("javascript:alert(1)", 0)).toBeNull();
  });

  it("renders the place with a safe link and the contact with its name", () => {
    const place = mount(MessageCard, { props: { kind: "location", body: { latitude: 48.8584, longitude: 2.2945, label: "Tour Eiffel" } } });
    const link = place.get("[data-testid=location-link]");
    expect(link.text()).toBe("Tour Eiffel");
    expect(link.attributes("rel")).toBe("noopener noreferrer");
    expect(link.attributes("href")).toMatch(/^https:\/\/www\.openstreetmap\.org\//);
    const card = mount(MessageCard, { props: { kind: "contact", body: { user_id: 4, username: "carol", nickname: "Carol C.", avatar_url: "" } } });
    expect(card.get("[data-testid=contact-card]").text()).toContain("Carol C.");
    expect(card.text()).toContain("@carol");
  });

  it("previews them in the conversation list", () => {
    const name = () => "x";
    expect(preview(msg(1, 1, 2, "", { kind: "location", body: { latitude: 1, longitude: 2, label: "Home" } }), name, 1)).toBe("[Location] Home");
    expect(preview(msg(1, 2, 2, "", { kind: "contact", body: { user_id: 4, username: "carol", nickname: "" } }), name, 1)).toBe("[Contact] carol");
  });
});
