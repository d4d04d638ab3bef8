import { ApiClient } from "./api/client";
import { LocalTokenStore, MemoryTokenStore } from "./api/tokens";
import type { ProtocolClient } from "./ws/client";
import type { SyncEngine } from "./ws/sync";

/** The app's long-lived, framework-free collaborators. Tests replace them with fakes. */
export interface Services {
  api: ApiClient;
  ws: ProtocolClient | null;
  sync: SyncEngine | null;
}

function defaultApi(): ApiClient {
  const store = typeof localStorage !== "undefined" ? new LocalTokenStore() : new MemoryTokenStore();
  return new ApiClient({ tokens: store });
}

let current: Services | null = null;

export function services(): Services {
  if (!current) current = { api: defaultApi(), ws: null, sync: null };
  return current;
}

export function setServices(s: Partial<Services>): Services {
  current = { ...services(), ...s };
  return current;
}

export function resetServices(): void {
  current = null;
}
