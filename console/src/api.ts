// Courier's HTTP API, as the console calls it: in Teams with the single sign-on token (Authorization: Bearer),
// in a browser with the session cookie (and its CSRF token on every change).

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

type TokenSource = () => Promise<string>;

let bearer: TokenSource | null = null;
let csrf: { header: string; token: string } | null = null;

export function useBearer(source: TokenSource): void {
  bearer = source;
}

export function useSession(header: string, token: string): void {
  csrf = { header, token };
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `Bearer ${await bearer()}`;
  else if (csrf && method !== "GET") headers[csrf.header] = csrf.token;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.message ?? `Courier answered ${response.status}`, error.field);
  }
  return data as T;
}

export interface Me {
  id: string;
  name: string;
  upn: string;
  tenantId: string;
  roles: string[];
  zone: string;
  zoneSet: boolean;
  quietHours: { start: string; end: string } | null;
  locale: string;
  session: boolean;
  csrfToken?: string;
  csrfHeader?: string;
}

export interface NotificationItem {
  id: string;
  title: string;
  status: string;
  state: "scheduled" | "sending" | "done" | "cancelled";
  createdAt: string;
  sendAt: string;
  ackRequired: boolean;
  mine: boolean;
  counts: Record<string, number>;
}

export interface NotificationStatus {
  id: string;
  status: string;
  ackRequired: boolean;
  createdAt: string;
  sendAt: string;
  firstSentAt: string | null;
  lastSentAt: string | null;
  throughputPerSecond: number | null;
  totals: Record<string, number>;
}

export interface Conversation {
  id: string;
  kind: string;
  name: string | null;
  teamId: string | null;
}

export interface ReminderItem {
  id: string;
  text: string;
  dueAt: string;
  zone: string;
  repeats: boolean;
  rule: string | null;
  for: string | null;
}
