// Compose: title, summary, a formatted body, up to three buttons, acknowledgement, the audience (people, or a
// channel or chat Courier is in), now or later; a live preview as Teams draws it (light and dark); a confirmation
// that states the audience's size before anything is sent.
import { useEffect, useMemo, useRef, useState } from "react";
import {
  Button,
  Dropdown,
  Field,
  Input,
  MessageBar,
  MessageBarBody,
  Option,
  Radio,
  RadioGroup,
  Switch,
  Textarea,
  Title3,
  Toolbar,
  ToolbarButton,
  makeStyles,
  tokens,
} from "@fluentui/react-components";
import { api, ApiError, type Conversation, type Me } from "../api";
import { buildCard, type CardButton, MAX_BUTTONS, safeUrl } from "../card";
import { CardPreview } from "../components/CardPreview";
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
  },
  button: { display: "grid", gridTemplateColumns: "1fr 2fr auto", gap: "8px", alignItems: "end" },
  previews: { display: "grid", gap: "12px" },
});

function people(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function recipient(value: string): Record<string, string> {
  return /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(value) ? { userId: value } : { upn: value };
}

export function ComposePage({ onSent }: { me: Me; onSent: () => void }) {
  const styles = useStyles();
  const [title, setTitle] = useState("");
  const [summary, setSummary] = useState("");
  const [body, setBody] = useState("");
  const [buttons, setButtons] = useState<CardButton[]>([]);
  const [ack, setAck] = useState(true);
  const [audience, setAudience] = useState<"people" | "conversation">("people");
  const [who, setWho] = useState("");
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [schedule, setSchedule] = useState<"now" | "later">("now");
  const [at, setAt] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [problem, setProblem] = useState<{ text: string; field?: string } | null>(null);
  const [sending, setSending] = useState(false);
  const bodyRef = useRef<HTMLTextAreaElement>(null);
  const key = useRef(crypto.randomUUID());

  useEffect(() => {
    api<{ conversations: Conversation[] }>("GET", "/api/conversations")
      .then((found) => setConversations(found.conversations))
      .catch(() => setConversations([]));
  }, []);

  const card = useMemo(() => buildCard({ title, summary, body, buttons }), [title, summary, body, buttons]);
  const listed = people(who);
  const size = audience === "people" ? `${listed.length} ${listed.length === 1 ? "person" : "people"}` : `everyone in ${conversation?.name ?? "the conversation"}`;
  const badUrl = buttons.find((b) => b.url.trim() && !safeUrl(b.url));
  const ready =
    title.trim() !== "" &&
    !badUrl &&
    (audience === "people" ? listed.length > 0 : conversation !== null) &&
    (schedule === "now" || at !== "");

  const wrap = (before: string, after = before) => {
    const area = bodyRef.current;
    if (!area) return;
    const { selectionStart: start, selectionEnd: end } = area;
    const chosen = body.slice(start, end) || "text";
    setBody(body.slice(0, start) + before + chosen + after + body.slice(end));
    requestAnimationFrame(() => area.focus());
  };
  const list = (marker: string) => {
    const area = bodyRef.current;
    const start = area ? area.selectionStart : body.length;
    const lineStart = body.lastIndexOf("\n", start - 1) + 1;
    setBody(body.slice(0, lineStart) + marker + body.slice(lineStart));
  };

  const send = async () => {
    setConfirming(false);
    setSending(true);
    setProblem(null);
    const recipients = audience === "people" ? listed.map(recipient) : [{ conversationId: conversation!.id }];
    const request: Record<string, unknown> = { idempotencyKey: key.current, recipients, card, ackRequired: ack };
    if (schedule === "later") request.sendAt = new Date(at).toISOString();
    try {
      await api("POST", "/api/notifications", request);
      key.current = crypto.randomUUID();
      onSent();
    } catch (error) {
      setProblem(error instanceof ApiError ? { text: error.message, field: error.field } : { text: String(error) });
    } finally {
      setSending(false);
    }
  };

  return (
    <div className={styles.layout}>
      <form className={styles.panel} aria-labelledby="compose-title" onSubmit={(e) => (e.preventDefault(), ready && setConfirming(true))}>
        <Title3 as="h2" id="compose-title">
          Compose
        </Title3>
        <Field label="Title" required>
          <Input value={title} onChange={(_, d) => setTitle(d.value)} maxLength={200} />
        </Field>
        <Field label="Summary" hint="One line under the title">
          <Input value={summary} onChange={(_, d) => setSummary(d.value)} maxLength={300} />
        </Field>
        <Field label="Message" hint="**bold**, lists (- item or 1. item) and [links](https://…)">
          <Toolbar aria-label="Formatting" size="small">
            <ToolbarButton onClick={() => wrap("**")}>Bold</ToolbarButton>
            <ToolbarButton onClick={() => list("- ")}>Bulleted list</ToolbarButton>
            <ToolbarButton onClick={() => list("1. ")}>Numbered list</ToolbarButton>
            <ToolbarButton onClick={() => wrap("[", "](https://)")}>Link</ToolbarButton>
          </Toolbar>
          <Textarea ref={bodyRef} value={body} onChange={(_, d) => setBody(d.value)} rows={6} resize="vertical" />
        </Field>
        {buttons.map((b, i) => (
          <div key={i} className={styles.button}>
            <Field label={`Button ${i + 1} label`}>
              <Input value={b.title} onChange={(_, d) => setButtons(buttons.map((x, j) => (j === i ? { ...x, title: d.value } : x)))} />
            </Field>
            <Field label={`Button ${i + 1} link`} validationMessage={b.url && !safeUrl(b.url) ? "Use an https:, mailto: or tel: link" : undefined}>
              <Input type="url" value={b.url} onChange={(_, d) => setButtons(buttons.map((x, j) => (j === i ? { ...x, url: d.value } : x)))} />
            </Field>
            <Button onClick={() => setButtons(buttons.filter((_, j) => j !== i))} aria-label={`Remove button ${i + 1}`}>
              Remove
            </Button>
          </div>
        ))}
        {buttons.length < MAX_BUTTONS && (
          <Button onClick={() => setButtons([...buttons, { title: "", url: "https://" }])}>Add a button</Button>
        )}
        <Switch checked={ack} onChange={(_, d) => setAck(d.checked)} label="Ask people to acknowledge it" />
        <Field label="Audience">
          <RadioGroup value={audience} onChange={(_, d) => setAudience(d.value as "people" | "conversation")} layout="horizontal">
            <Radio value="people" label="People" />
            <Radio value="conversation" label="A channel or chat" disabled={conversations.length === 0} />
          </RadioGroup>
        </Field>
        {audience === "people" ? (
          <Field label="People" hint="Email addresses (UPNs) or Entra object ids, separated by commas or lines" required>
            <Textarea value={who} onChange={(_, d) => setWho(d.value)} rows={3} />
          </Field>
        ) : (
          <Field label="Channel or chat Courier is in" required>
            <Dropdown
              placeholder="Pick one"
              value={conversation?.name ?? ""}
              onOptionSelect={(_, d) => setConversation(conversations.find((c) => c.id === d.optionValue) ?? null)}
            >
              {conversations.map((c) => (
                <Option key={c.id} value={c.id}>
                  {c.name ?? c.id}
                </Option>
              ))}
            </Dropdown>
          </Field>
        )}
        <Field label="When">
          <RadioGroup value={schedule} onChange={(_, d) => setSchedule(d.value as "now" | "later")} layout="horizontal">
            <Radio value="now" label="Now" />
            <Radio value="later" label="At a time (your device's time zone)" />
          </RadioGroup>
        </Field>
        {schedule === "later" && (
          <Field label="Send at" required>
            <Input type="datetime-local" value={at} onChange={(_, d) => setAt(d.value)} />
          </Field>
        )}
        {problem && (
          <MessageBar intent="error">
            <MessageBarBody>
              {problem.field ? `${problem.field}: ` : ""}
              {problem.text}
            </MessageBarBody>
          </MessageBar>
        )}
        <Button appearance="primary" type="submit" disabled={!ready || sending}>
          {sending ? "Sending…" : "Send…"}
        </Button>
      </form>
      <section className={styles.previews} aria-label="Preview">
        <CardPreview card={card} mode="light" />
        <CardPreview card={card} mode="dark" />
      </section>
      <Confirm
        open={confirming}
        title={schedule === "now" ? `Send to ${size}?` : `Schedule for ${size}?`}
        text={`"${title}" goes to ${size}${schedule === "later" ? ` at ${new Date(at).toLocaleString()}` : " now"}${ack ? ", asking them to acknowledge it" : ""}.`}
        action={schedule === "now" ? "Send now" : "Schedule"}
        onConfirm={send}
        onCancel={() => setConfirming(false)}
      />
    </div>
  );
}
