import type { DeviceKind, Message, User } from "../api/types";

// Frames of Pigeon's WebSocket protocol (see the wire contract).

export interface HelloFrame {
  type: "hello";
  user: User;
  /** This connection's id. */
  session_id: string;
  /** The device (login) this connection belongs to; every tab of a browser shares it. */
  device_id: string;
  device: DeviceKind;
  heartbeat_interval: number;
  heartbeat_timeout: number;
  server_time: number;
}
export interface AckFrame {
  type: "ack";
  ref: string | null;
  message_id: number;
  conversation_id: number;
  seq: number;
  ts: number;
  client_msg_id: string;
}
export interface MessageFrame { type: "message"; message: Message }
/** A held message was edited or reacted to: its whole current state. */
export interface MessageChangedFrame { type: "message_changed"; message: Message }
export interface MessagesFrame { type: "messages"; ref: string | null; conversation_id: number; messages: Message[]; has_more: boolean }
export interface ReadFrame { type: "read"; conversation_id: number; user_id: number; seq: number }
export interface TypingFrame { type: "typing"; conversation_id: number; user_id: number }
export interface EventFrame { type: "event"; event: string; data: Record<string, unknown> }
export interface PresenceFrame { type: "presence"; user_id: number; online: boolean; devices: string[]; last_seen?: number | null }
export interface NoticeFrame { type: "notice"; conversation_id: number; last_seq: number }
export interface ErrorFrame { type: "error"; ref: string | null; code: string; message: string; retry_after_ms?: number }
export interface KickedFrame { type: "kicked"; reason: string }
export interface ReconnectFrame { type: "reconnect"; reason: string }
export interface PongFrame { type: "pong"; server_time: number }

export type ServerFrame =
  | HelloFrame | AckFrame | MessageFrame | MessageChangedFrame | MessagesFrame | ReadFrame | TypingFrame | EventFrame
  | PresenceFrame | NoticeFrame | ErrorFrame | KickedFrame | ReconnectFrame | PongFrame;

export type ClientFrame =
  | { type: "auth"; token: string }
  | { type: "ping" }
  | { type: "send"; ref: string; client_msg_id: string; conversation_id?: number; to_user_id?: number; kind: string; body: unknown; mentions?: number[]; mention_all?: boolean; reply_to?: number }
  | { type: "sync"; ref: string; conversation_id: number; after: number; limit?: number }
  | { type: "read"; conversation_id: number; seq: number }
  | { type: "typing"; conversation_id: number }
  | { type: "recall"; ref: string; message_id: number };

export const CLOSE = {
  AUTH_FAILED: 4001,
  AUTH_TIMEOUT: 4002,
  /** This device was logged out (from any of the user's devices), or its session revoked. */
  KICKED: 4003,
  HEARTBEAT_TIMEOUT: 4004,
  /** The account has gateway.max_connections_per_user sockets open already. */
  TOO_MANY_CONNECTIONS: 4005,
  RATE_LIMITED: 4008,
  PROTOCOL: 4000,
  TOO_BIG: 1009,
  RESTART: 1012,
} as const;
