// Mine (everyone): my reminders (snooze, delete) and my settings (time zone, quiet hours).
import { useCallback, useEffect, useState } from "react";
import {
  Button,
  Combobox,
  Field,
  Input,
  Menu,
  MenuItem,
  MenuList,
  MenuPopover,
  MenuTrigger,
  MessageBar,
  MessageBarBody,
  Option,
  Spinner,
  Switch,
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
import { api, type Me, type ReminderItem } from "../api";
import { Confirm } from "../components/Confirm";

const useStyles = makeStyles({
  layout: { display: "grid", gap: "16px", gridTemplateColumns: "repeat(auto-fit, minmax(320px, 1fr))", alignItems: "start" },
  panel: {
    display: "grid",
    gap: "12px",
    backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusLarge,
    padding: "16px",
    boxShadow: tokens.shadow4,
    overflowX: "auto",
  },
  actions: { display: "flex", gap: "4px" },
  hours: { display: "flex", gap: "8px", flexWrap: "wrap" },
});

const SNOOZES: [string, number][] = [
  ["15 minutes", 15],
  ["1 hour", 60],
  ["1 day", 1440],
];

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : ["UTC"];
}

function dueText(r: ReminderItem): string {
  return new Date(r.dueAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: r.zone });
}

export function MinePage({ me, onMe }: { me: Me; onMe: (me: Me) => void }) {
  const styles = useStyles();
  return (
    <div className={styles.layout}>
      <Reminders />
      <Settings me={me} onMe={onMe} />
    </div>
  );
}

function Reminders() {
  const styles = useStyles();
  const [items, setItems] = useState<ReminderItem[] | null>(null);
  const [deleting, setDeleting] = useState<ReminderItem | null>(null);
  const [message, setMessage] = useState("");

  const load = useCallback(async () => {
    setItems((await api<{ reminders: ReminderItem[] }>("GET", "/api/me/reminders")).reminders);
  }, []);
  useEffect(() => {
    load().catch((e: unknown) => setMessage(String(e)));
  }, [load]);

  const snooze = async (r: ReminderItem, minutes: number) => {
    const done = await api<{ message: string }>("POST", `/api/me/reminders/${r.id}/snooze`, { minutes });
    setMessage(done.message);
    await load();
  };
  const remove = async () => {
    const r = deleting!;
    setDeleting(null);
    await api("DELETE", `/api/me/reminders/${r.id}`);
    setMessage(`Deleted "${r.text}".`);
    await load();
  };

  return (
    <section className={styles.panel} aria-labelledby="reminders-title">
      <Title3 as="h2" id="reminders-title">
        My reminders
      </Title3>
      {message && (
        <MessageBar intent="success">
          <MessageBarBody>{message}</MessageBarBody>
        </MessageBar>
      )}
      {items === null && <Spinner label="Loading reminders…" />}
      {items?.length === 0 && <Text>No reminders coming up. Set one in the chat: "remind me tomorrow at 9 to …".</Text>}
      {items && items.length > 0 && (
        <Table aria-label="My reminders" size="small">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>What</TableHeaderCell>
              <TableHeaderCell>When</TableHeaderCell>
              <TableHeaderCell>Actions</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {items.map((r) => (
              <TableRow key={r.id} data-testid="reminder-row">
                <TableCell>
                  {r.text}
                  {r.for ? ` (for ${r.for})` : ""}
                </TableCell>
                <TableCell>
                  {dueText(r)}
                  {r.repeats ? " · repeats" : ""}
                </TableCell>
                <TableCell>
                  <div className={styles.actions}>
                    <Menu>
                      <MenuTrigger disableButtonEnhancement>
                        <Button size="small" aria-label={`Snooze "${r.text}"`}>
                          Snooze
                        </Button>
                      </MenuTrigger>
                      <MenuPopover>
                        <MenuList>
                          {SNOOZES.map(([label, minutes]) => (
                            <MenuItem key={minutes} onClick={() => snooze(r, minutes)}>
                              {label}
                            </MenuItem>
                          ))}
                        </MenuList>
                      </MenuPopover>
                    </Menu>
                    <Button size="small" onClick={() => setDeleting(r)} aria-label={`Delete "${r.text}"`}>
                      Delete
                    </Button>
                  </div>
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      <Confirm
        open={deleting !== null}
        title="Delete this reminder?"
        text={`"${deleting?.text ?? ""}" will not come back${deleting?.repeats ? ", nor will its repetitions" : ""}.`}
        action="Delete reminder"
        onConfirm={remove}
        onCancel={() => setDeleting(null)}
      />
    </section>
  );
}

function Settings({ me, onMe }: { me: Me; onMe: (me: Me) => void }) {
  const styles = useStyles();
  const [zone, setZone] = useState(me.zone);
  const [quiet, setQuiet] = useState(me.quietHours !== null);
  const [start, setStart] = useState(me.quietHours?.start ?? "20:00");
  const [end, setEnd] = useState(me.quietHours?.end ?? "08:00");
  const [result, setResult] = useState<{ intent: "success" | "error"; text: string } | null>(null);
  const all = zones();

  const save = async () => {
    try {
      const updated = await api<Me>("PATCH", "/api/me/settings", { zone, quietHours: quiet ? { start, end } : null });
      onMe({ ...me, ...updated, csrfToken: me.csrfToken, csrfHeader: me.csrfHeader });
      setResult({ intent: "success", text: "Saved." });
    } catch (error) {
      setResult({ intent: "error", text: error instanceof Error ? error.message : String(error) });
    }
  };

  return (
    <form className={styles.panel} aria-labelledby="settings-title" onSubmit={(e) => (e.preventDefault(), save())}>
      <Title3 as="h2" id="settings-title">
        My settings
      </Title3>
      <Field label="Time zone" hint="Reminders and schedules use it">
        <Combobox
          value={zone}
          freeform
          onChange={(e) => setZone((e.target as HTMLInputElement).value)}
          onOptionSelect={(_, d) => d.optionValue && setZone(d.optionValue)}
        >
          {all
            .filter((z) => z.toLowerCase().includes(zone.toLowerCase()) || zone === me.zone)
            .slice(0, 50)
            .map((z) => (
              <Option key={z}>{z}</Option>
            ))}
        </Combobox>
      </Field>
      <Switch checked={quiet} onChange={(_, d) => setQuiet(d.checked)} label="Quiet hours (reminders wait until they end)" />
      {quiet && (
        <div className={styles.hours}>
          <Field label="From">
            <Input type="time" value={start} onChange={(_, d) => setStart(d.value)} />
          </Field>
          <Field label="Until">
            <Input type="time" value={end} onChange={(_, d) => setEnd(d.value)} />
          </Field>
        </div>
      )}
      {result && (
        <MessageBar intent={result.intent}>
          <MessageBarBody>{result.text}</MessageBarBody>
        </MessageBar>
      )}
      <Button appearance="primary" type="submit">
        Save settings
      </Button>
    </form>
  );
}
