// The card as Teams draws it: the official Adaptive Cards renderer with Teams' own host config (light or dark).
import { useEffect, useRef } from "react";
import { makeStyles } from "@fluentui/react-components";
import * as AC from "adaptivecards";
import teamsLight from "@hostconfigs/microsoft-teams-light.json";
import teamsDark from "@hostconfigs/microsoft-teams-dark.json";
import { markdownToHtml } from "../card";

AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = markdownToHtml(text);
  result.didProcess = true;
};

const HOSTS = { light: new AC.HostConfig(teamsLight), dark: new AC.HostConfig(teamsDark) };
const BACKGROUNDS = { light: "#ffffff", dark: "#292929" };

// Links as Teams colours them in cards (its brand colour, lighter on the dark theme).
const useLinks = makeStyles({
  light: { "& a": { color: "#4f52b2" } },
  dark: { "& a": { color: "#a6a7dc" } },
});

export function CardPreview({ card, mode }: { card: Record<string, unknown>; mode: "light" | "dark" }) {
  const target = useRef<HTMLDivElement>(null);
  const links = useLinks();
  useEffect(() => {
    const adaptive = new AC.AdaptiveCard();
    adaptive.hostConfig = HOSTS[mode];
    adaptive.parse(card, new AC.SerializationContext());
    const element = adaptive.render();
    target.current?.replaceChildren(...(element ? [element] : []));
  }, [card, mode]);
  return (
    <figure
      className={`card-preview ${links[mode]}`}
      data-mode={mode}
      style={{ background: BACKGROUNDS[mode], margin: 0, padding: 12, borderRadius: 8, border: "1px solid #8a8a8a" }}
    >
      <figcaption style={{ color: mode === "dark" ? "#ffffff" : "#242424", fontSize: 12, marginBottom: 8 }}>
        Preview in Teams ({mode})
      </figcaption>
      <div ref={target} />
    </figure>
  );
}
