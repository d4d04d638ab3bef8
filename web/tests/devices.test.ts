import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/api/client";
import type { Device } from "../src/api/types";
import DeviceList from "../src/components/DeviceList.vue";
import { deviceName } from "../src/lib/deviceName";
import { lastActive } from "../src/lib/format";
import { resetServices, setServices } from "../src/services";

const CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0";
const SAFARI_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

describe("device names and times", () => {
  it("names a browser after itself and its system", () => {
    expect(deviceName(CHROME_LINUX)).toBe("Chrome on Linux");
    expect(deviceName(FIREFOX_MAC)).toBe("Firefox on macOS");
    expect(deviceName(SAFARI_IPHONE)).toBe("Safari on iOS");
    expect(deviceName("")).toBe("Web browser");
  });

  it("says how long ago a device was active", () => {
    const now = 1_790_000_000_000;
    expect(lastActive(now - 10_000, now)).toBe("just now");
    expect(lastActive(now - 5 * 60_000, now)).toBe("5 min ago");
  });
});

class FakeDevicesApi {
  renamed: Array<[string, string]> = [];
  loggedOut: string[] = [];
  list: Device[] = [
    { id: "d1", name: "Chrome on Linux", kind: "web", created_at: 1, last_active_at: Date.now(), online: true, current: true },
    { id: "d2", name: "Phone", kind: "mobile", created_at: 1, last_active_at: Date.now() - 5 * 60_000, online: false, current: false },
  ];
  async devices() { return { devices: this.list }; }
  async renameDevice(id: string, name: string) {
    this.renamed.push([id, name]);
    const d = { ...this.list.find((x) => x.id === id)!, name };
    this.list = this.list.map((x) => (x.id === id ? d : x));
    return d;
  }
  async logOutDevice(id: string) {
    this.loggedOut.push(id);
    this.list = this.list.filter((x) => x.id !== id);
  }
}

describe("DeviceList", () => {
  let api: FakeDevicesApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeDevicesApi();
    setServices({ api: api as unknown as ApiClient });
  });
  afterEach(() => resetServices());

  it("lists my devices with kind, online state and this device", async () => {
    const w = mount(DeviceList);
    await flushPromises();
    const rows = w.findAll('[data-testid="device"]');
    expect(rows.map((r) => r.find('[data-testid="device-name"]').text())).toEqual(["Chrome on Linux", "Phone"]);
    expect(rows[0].find('[data-testid="this-device"]').exists()).toBe(true);
    expect(rows[0].find('[data-testid="device-online"]').text()).toBe("Online now");
    expect(rows[1].find('[data-testid="this-device"]').exists()).toBe(false);
    expect(rows[1].text()).toContain("Mobile app");
    expect(rows[1].find('[data-testid="device-last-active"]').text()).toBe("Last active 5 min ago");
    w.unmount();
  });

  it("renames a device and logs another one out after a confirmation", async () => {
    const w = mount(DeviceList);
    await flushPromises();
    const phone = () => w.findAll('[data-testid="device"]')[1];
    await phone().find('[data-testid="device-rename"]').trigger("click");
    await phone().find('[data-testid="device-name-input"]').setValue("  Old phone ");
    await phone().find('[data-testid="device-save"]').trigger("click");
    await flushPromises();
    expect(api.renamed).toEqual([["d2", "Old phone"]]);
    expect(phone().find('[data-testid="device-name"]').text()).toBe("Old phone");

    await phone().find('[data-testid="device-logout"]').trigger("click");
    expect(api.loggedOut).toEqual([]); // asks first
    await phone().find('[data-testid="device-logout-confirm"]').trigger("click");
    await flushPromises();
    expect(api.loggedOut).toEqual(["d2"]);
    expect(w.findAll('[data-testid="device"]').length).toBe(1);
    w.unmount();
  });
});
