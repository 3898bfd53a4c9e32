// Sent: the caller's notifications (an admin's: everyone's), newest first, with figures that refresh on their own;
// a notification's detail with its figures by state and failure reason, Nudge and Cancel (each confirmed).
import { useCallback, useEffect, useState } from "react";
import {
  Badge,
  Button,
  Caption1,
  MessageBar,
  MessageBarBody,
  Spinner,
  Subtitle2,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title3,
  makeStyles,
  tokens,
} from "@fluentui/react-components";
import { api, type Me, type NotificationItem, type NotificationStatus } from "../api";
import { Confirm } from "../components/Confirm";

const LIST_POLL_MS = 5_000;
const DETAIL_POLL_MS = 3_000;

const useStyles = makeStyles({
  layout: { display: "grid", gap: "16px", gridTemplateColumns: "repeat(auto-fit, minmax(320px, 1fr))", alignItems: "start" },
  panel: {
    display: "grid",
    gap: "12px",
    alignContent: "start",
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    padding: "16px",
    boxShadow: tokens.shadow4,
    overflowX: "auto",
  },
  figures: { display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(120px, 1fr))", gap: "12px" },
  figure: { display: "grid", padding: "8px", borderRadius: tokens.borderRadiusMedium, backgroundColor: tokens.colorNeutralBackground3 },
  big: { fontSize: tokens.fontSizeHero700, lineHeight: tokens.lineHeightHero700, fontWeight: tokens.fontWeightSemibold },
  actions: { display: "flex", gap: "8px", flexWrap: "wrap" },
  row: { cursor: "pointer" },
});

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function delivered(counts: Record<string, number>): string {
  return `${counts.sent ?? 0} of ${counts.total ?? 0}`;
}

export function SentPage({ me }: { me: Me }) {
  const styles = useStyles();
  const [items, setItems] = useState<NotificationItem[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [problem, setProblem] = useState("");

  const load = useCallback(async () => {
    try {
      const page = await api<{ notifications: NotificationItem[]; next?: string }>("GET", "/api/notifications");
      setItems((old) => {
        const fresh = page.notifications;
        const ids = new Set(fresh.map((n) => n.id));
        const last = fresh.length ? fresh[fresh.length - 1].createdAt : "";
        return [...fresh, ...(old ?? []).filter((o) => !ids.has(o.id) && o.createdAt < last)];
      });
      setNext((old) => old ?? page.next ?? null);
      setProblem("");
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
  }, []);

  useEffect(() => {
    load();
    const timer = setInterval(load, LIST_POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  const more = async () => {
    if (!next) return;
    const page = await api<{ notifications: NotificationItem[]; next?: string }>("GET", next);
    setItems((old) => [...(old ?? []), ...page.notifications]);
    setNext(page.next ?? null);
  };

  return (
    <div className={styles.layout}>
      <section className={styles.panel} aria-labelledby="sent-title">
        <Title3 as="h2" id="sent-title">
          Sent {me.roles.includes("admin") ? "(everyone's)" : ""}
        </Title3>
        {problem && (
          <MessageBar intent="error">
            <MessageBarBody>{problem}</MessageBarBody>
          </MessageBar>
        )}
        {items === null && <Spinner label="Loading notifications…" />}
        {items?.length === 0 && <Text>Nothing sent yet. Compose your first notification.</Text>}
        {items && items.length > 0 && (
          <Table aria-label="Notifications" size="small">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Title</TableHeaderCell>
                <TableHeaderCell>Created</TableHeaderCell>
                <TableHeaderCell>Status</TableHeaderCell>
                <TableHeaderCell>Delivered</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {items.map((n) => (
                <TableRow
                  key={n.id}
                  className={styles.row}
                  aria-selected={selected === n.id}
                  tabIndex={0}
                  onClick={() => setSelected(n.id)}
                  onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && setSelected(n.id)}
                  data-testid="notification-row"
                >
                  <TableCell>{n.title}</TableCell>
                  <TableCell>{when(n.createdAt)}</TableCell>
                  <TableCell>
                    <Badge appearance="tint" color={n.state === "cancelled" ? "danger" : n.state === "done" ? "success" : "brand"}>
                      {n.state}
                    </Badge>
                  </TableCell>
                  <TableCell>{delivered(n.counts)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
        {next && (
          <Button appearance="secondary" onClick={more}>
            Show older
          </Button>
        )}
      </section>
      {selected && <Detail id={selected} onChanged={load} />}
    </div>
  );
}

function Detail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const styles = useStyles();
  const [status, setStatus] = useState<NotificationStatus | null>(null);
  const [confirm, setConfirm] = useState<"nudge" | "cancel" | null>(null);
  const [message, setMessage] = useState<{ intent: "success" | "error"; text: string } | null>(null);

  const refresh = useCallback(async () => {
    try {
      const fresh = await api<NotificationStatus>("GET", `/api/notifications/${id}`);
      setStatus((old) => {
        if (old && JSON.stringify(old.totals) !== JSON.stringify(fresh.totals)) onChanged();
        return fresh;
      });
    } catch (error) {
      setMessage({ intent: "error", text: error instanceof Error ? error.message : String(error) });
    }
  }, [id, onChanged]);

  useEffect(() => {
    setStatus(null);
    setMessage(null);
    refresh();
    const timer = setInterval(refresh, DETAIL_POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  const act = async (what: "nudge" | "cancel") => {
    setConfirm(null);
    try {
      if (what === "cancel") {
        const done = await api<{ cancelled: number }>("DELETE", `/api/notifications/${id}`);
        setMessage({ intent: "success", text: `Cancelled: ${done.cancelled} deliveries will not be sent.` });
      } else {
        const done = await api<{ recipients: number }>("POST", `/api/notifications/${id}/nudge`);
        setMessage({ intent: "success", text: `Nudge queued for ${done.recipients} people who have not acknowledged.` });
      }
      refresh();
      onChanged();
    } catch (error) {
      setMessage({ intent: "error", text: error instanceof Error ? error.message : String(error) });
    }
  };

  const totals = status?.totals ?? {};
  const failures = Object.entries(totals).filter(([k]) => k.startsWith("failed:"));
  const shown: [string, number][] = [
    ["Queued", (totals.queued ?? 0) + (totals.claimed ?? 0) + (totals.sending ?? 0)],
    ["Sent", totals.sent ?? 0],
    ["Failed", totals.failed ?? 0],
    ["Not installed", totals.not_installed ?? 0],
    ["Maybe delivered", totals.maybe_delivered ?? 0],
    ["Acknowledged", totals.acknowledged ?? 0],
  ];
  return (
    <section className={styles.panel} aria-labelledby="detail-title" aria-live="polite">
      <Title3 as="h2" id="detail-title">
        Figures
      </Title3>
      {!status && <Spinner label="Loading figures…" />}
      {status && (
        <>
          <Caption1 block>
            Created {when(status.createdAt)}
            {status.firstSentAt ? ` · first card ${when(status.firstSentAt)}` : ""}
            {status.throughputPerSecond ? ` · ${status.throughputPerSecond} per second` : ""}
          </Caption1>
          <div className={styles.figures} data-testid="figures">
            {shown.map(([label, value]) => (
              <div key={label} className={styles.figure}>
                <span className={styles.big}>{value}</span>
                <Text>{label}</Text>
              </div>
            ))}
          </div>
          {failures.length > 0 && (
            <>
              <Subtitle2 as="h3">Failed, by reason</Subtitle2>
              <ul>
                {failures.map(([k, v]) => (
                  <li key={k}>
                    {k.slice("failed:".length)}: {v}
                  </li>
                ))}
              </ul>
            </>
          )}
          {message && (
            <MessageBar intent={message.intent}>
              <MessageBarBody>{message.text}</MessageBarBody>
            </MessageBar>
          )}
          <div className={styles.actions}>
            {status.ackRequired && (
              <Button onClick={() => setConfirm("nudge")}>Nudge who hasn't acknowledged</Button>
            )}
            {status.status !== "cancelled" && (totals.queued ?? 0) > 0 && (
              <Button onClick={() => setConfirm("cancel")}>Cancel what is still queued</Button>
            )}
          </div>
        </>
      )}
      <Confirm
        open={confirm !== null}
        title={confirm === "nudge" ? "Nudge everyone who hasn't acknowledged?" : "Cancel this notification?"}
        text={
          confirm === "nudge"
            ? "A reminder goes to each person it reached who has not acknowledged yet (at most once an hour)."
            : "Nobody still waiting in the queue will receive it. Cards already delivered stay."
        }
        action={confirm === "nudge" ? "Send nudge" : "Cancel notification"}
        onConfirm={() => confirm && act(confirm)}
        onCancel={() => setConfirm(null)}
      />
    </section>
  );
}
