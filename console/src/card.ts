// The notification's Adaptive Card, built from the Compose form. Its text uses the markdown subset Teams renders
// in cards: **bold**, _italic_, "- " and "1. " lists, [links](https://...).

export interface CardButton {
  title: string;
  url: string;
}

export interface Draft {
  title: string;
  summary: string;
  body: string;
  buttons: CardButton[];
}

export const MAX_BUTTONS = 3;

export function buildCard(draft: Draft): Record<string, unknown> {
  const body: Record<string, unknown>[] = [
    { type: "TextBlock", text: draft.title || "Title", size: "Large", weight: "Bolder", wrap: true },
  ];
  if (draft.summary.trim()) body.push({ type: "TextBlock", text: draft.summary, isSubtle: true, wrap: true });
  if (draft.body.trim()) body.push({ type: "TextBlock", text: draft.body, wrap: true, spacing: "Medium" });
  const card: Record<string, unknown> = { type: "AdaptiveCard", version: "1.5", body };
  const actions = draft.buttons
    .filter((b) => b.title.trim() && b.url.trim())
    .slice(0, MAX_BUTTONS)
    .map((b) => ({ type: "Action.OpenUrl", title: b.title.trim(), url: b.url.trim() }));
  if (actions.length) card.actions = actions;
  return card;
}

export function safeUrl(url: string): boolean {
  return /^(https:\/\/|mailto:|tel:)/i.test(url.trim());
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function inline(text: string): string {
  return escapeHtml(text)
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|\W)_(.+?)_(?=\W|$)/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\((https:\/\/[^)\s]+|mailto:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
}

// The preview's markdown: what Teams shows for the subset above (everything escaped first).
export function markdownToHtml(text: string): string {
  const out: string[] = [];
  let list: "ul" | "ol" | null = null;
  const close = () => {
    if (list) out.push(`</${list}>`);
    list = null;
  };
  for (const line of text.split(/\r?\n/)) {
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+\.\s+(.*)$/.exec(line);
    const kind = bullet ? "ul" : numbered ? "ol" : null;
    if (kind) {
      if (list !== kind) {
        close();
        out.push(`<${kind}>`);
        list = kind;
      }
      out.push(`<li>${inline((bullet ?? numbered)![1])}</li>`);
    } else {
      close();
      if (line.trim()) out.push(`<p>${inline(line)}</p>`);
    }
  }
  close();
  return out.join("");
}
