// Wire types from the Pigeon contract. Ids are integers, times are ms since the epoch.

export type DeviceKind = "web" | "desktop" | "mobile";

/** One of my logged-in devices (a browser, an app install): `GET /devices`. */
export interface Device {
  id: string;
  name: string;
  kind: DeviceKind;
  created_at: number;
  last_active_at: number;
  online: boolean;
  /** This browser. */
  current: boolean;
}

export interface User {
  id: number;
  username: string;
  nickname: string;
  avatar_url: string | null;
  signature: string | null;
  created_at: number;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  expires_in: number;
  user: User;
  device_id: string;
}

export type GroupRole = "owner" | "admin" | "member";

export interface Group {
  id: number;
  name: string;
  avatar_url: string | null;
  notice: string | null;
  owner_id: number;
  member_count: number;
  dissolved: boolean;
  my_role: GroupRole | null;
}

export interface GroupMember {
  user: User;
  role: GroupRole;
  alias: string | null;
}

export type MessageKind = "text" | "image" | "file" | "voice" | "location" | "contact" | "system" | "recall";

export interface TextBody { text: string }
export type UploadKind = "image" | "file" | "voice" | "avatar";
/** Message kinds that carry an upload: what a conversation's gallery lists. */
export type MediaKind = "image" | "file" | "voice";

/** The answer to `POST /uploads`. */
export interface Upload {
  id: string;
  kind: UploadKind;
  name: string;
  mime: string;
  size: number;
  url: string;
  thumb_url: string | null;
  width: number | null;
  height: number | null;
}

export interface ImageBody { url: string; thumb_url: string; width: number; height: number; size: number }
export interface FileBody { url: string; name: string; size: number; mime: string }
export interface VoiceBody { url: string; duration_ms: number; size: number }
export interface SystemBody { tip: string; event?: string; [k: string]: unknown }
export interface RecallBody { message_id: number; seq: number; by: number }

export interface Message {
  id: number;
  conversation_id: number;
  seq: number;
  sender_id: number | null;
  client_msg_id: string | null;
  kind: MessageKind | string;
  body: Record<string, unknown>;
  ts: number;
  recalled: boolean;
  mentions: number[];
  mention_all: boolean;
  /** The message this one answers, as it stands now. */
  reply_to?: ReplyQuote | null;
  /** When its text was last edited (null if never). */
  edited_at?: number | null;
  reactions?: Reaction[];
  /** The conversation's change number of its last edit or reaction: of two copies, the higher wins. */
  version?: number;
  /** I deleted it for myself: it keeps its seq, with an empty body. */
  hidden?: boolean;
  /** A forwarded copy: who first sent the original, and when. */
  forwarded_from?: { sender_id: number | null; ts: number } | null;
}

/** The original a reply quotes (`reply_to` of a message). */
export interface ReplyQuote {
  message_id: number;
  seq: number;
  sender_id: number | null;
  kind: string;
  snippet: string;
  recalled: boolean;
}

/** One emoji on a message: how many reacted, and (at most 20 of) who. */
export interface Reaction {
  emoji: string;
  count: number;
  user_ids: number[];
}

/** `GET /conversations/{id}/changes`: messages edited or reacted to after a change number. */
export interface ChangesPage {
  conversation_id: number;
  messages: Message[];
  last_change: number;
  has_more: boolean;
}

/** My own choices for a conversation, the same on all my devices. */
export interface ConversationSettings {
  /** ms; 0: not muted; MUTED_FOREVER: until unmuted. */
  muted_until: number;
  count_when_muted: boolean;
  pinned: boolean;
  archived: boolean;
}

/** `muted_until` that mutes until unmuted (2^62). */
export const MUTED_FOREVER = 2 ** 62;

/** `GET /conversations/{id}/pins`: latest pin first. */
export interface Pin {
  message: Message;
  pinned_by: number | null;
  pinned_at: number;
}

/** One target of `POST /messages/forward`: the acks, or why it was refused. */
export interface ForwardResult {
  conversation_id: number;
  acks: Ack[];
  error: { code: string; message: string } | null;
}

export interface HiddenPage {
  conversation_id: number;
  message_ids: number[];
  hidden_change: number;
  has_more: boolean;
}

export interface Conversation {
  id: number;
  kind: "private" | "group";
  peer: User | null;
  group: Group | null;
  last_seq: number;
  read_seq: number;
  peer_read_seq?: number | null;
  unread: number;
  mentioned: boolean;
  last_message: Message | null;
  /** The conversation's latest change number (edits and reactions). */
  last_change?: number;
  /** How many times I deleted messages here for myself. */
  hidden_change?: number;
  settings?: ConversationSettings;
}

export interface Ack {
  message_id: number;
  conversation_id: number;
  seq: number;
  ts: number;
  client_msg_id: string;
}

/** A stretch of a search hit's text; `match` marks what the query matched. */
export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface SearchHit {
  message: Message;
  snippet: SnippetPart[];
  score: number;
}

export interface SearchPage {
  hits: SearchHit[];
  next_cursor: string | null;
}

export interface MessagePage {
  messages: Message[];
  has_more: boolean;
}

/** `GET /conversations/{id}/media`: attachment messages, newest first. */
export interface MediaPage {
  conversation_id: number;
  items: Message[];
  has_more: boolean;
}

export interface Friend {
  user: User;
  remark: string | null;
  online: boolean;
  devices: string[];
  /** When their last device went offline (ms); null while online or never seen. */
  last_seen?: number | null;
}

export interface FriendRequest {
  id: number;
  from_user: User;
  to_user: User;
  note: string | null;
  status: "pending" | "accepted" | "declined" | "cancelled";
  ts: number;
}

export interface PresenceInfo {
  online: boolean;
  devices: string[];
  last_seen?: number | null;
}

export interface Readers {
  read_count: number;
  readers: number[];
}
