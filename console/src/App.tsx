// The console's shell: who is signed in, the theme (Teams' or the browser's), navigation between pages.
import { useEffect, useState } from "react";
import {
  Button,
  FluentProvider,
  Spinner,
  Tab,
  TabList,
  Text,
  Title3,
  makeStyles,
  teamsDarkTheme,
  teamsHighContrastTheme,
  teamsLightTheme,
  tokens,
  webDarkTheme,
  webLightTheme,
} from "@fluentui/react-components";
import { api, ApiError, type Me, useBearer, useSession } from "./api";
import type { Host, Theme } from "./host";
import { SentPage } from "./pages/Sent";
import { ComposePage } from "./pages/Compose";
import { MinePage } from "./pages/Mine";

type Page = "sent" | "compose" | "mine";

const useStyles = makeStyles({
  root: { minHeight: "100vh", backgroundColor: tokens.colorNeutralBackground2, color: tokens.colorNeutralForeground1 },
  header: {
    display: "flex",
    flexWrap: "wrap",
    alignItems: "center",
    gap: "8px 16px",
    padding: "8px 16px",
    backgroundColor: tokens.colorNeutralBackground1,
    borderBottom: `1px solid ${tokens.colorNeutralStroke2}`,
  },
  grow: { flexGrow: 1 },
  main: { padding: "16px", maxWidth: "1100px", margin: "0 auto" },
  center: { padding: "64px 16px", textAlign: "center", display: "grid", gap: "16px", justifyItems: "center" },
});

function themeFor(theme: Theme, inTeams: boolean) {
  if (theme === "contrast") return teamsHighContrastTheme;
  if (inTeams) return theme === "dark" ? teamsDarkTheme : teamsLightTheme;
  return theme === "dark" ? webDarkTheme : webLightTheme;
}

function pageFromPath(me: Me | null): Page {
  const wanted = window.location.pathname.replace(/^\/console\/?/, "").split("/")[0];
  const sender = !!me && isSender(me);
  if (wanted === "compose" && sender) return "compose";
  if (wanted === "mine" || !sender) return "mine";
  return "sent";
}

export function isSender(me: Me): boolean {
  return me.roles.includes("sender") || me.roles.includes("admin");
}

export function App({ host }: { host: Host }) {
  const styles = useStyles();
  const [theme, setTheme] = useState<Theme>(host.theme);
  const [me, setMe] = useState<Me | null>(null);
  const [state, setState] = useState<"loading" | "signin" | "ready" | "error">("loading");
  const [problem, setProblem] = useState("");
  const [page, setPage] = useState<Page>("sent");

  useEffect(() => host.onTheme(setTheme), [host]);
  useEffect(() => {
    if (host.token) useBearer(host.token);
    api<Me>("GET", "/api/me")
      .then((who) => {
        if (who.csrfToken && who.csrfHeader) useSession(who.csrfHeader, who.csrfToken);
        setMe(who);
        setPage(pageFromPath(who));
        setState("ready");
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401 && !host.inTeams) setState("signin");
        else {
          setProblem(error instanceof Error ? error.message : String(error));
          setState("error");
        }
      });
  }, [host]);
  useEffect(() => {
    const onPop = () => setPage(pageFromPath(me));
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, [me]);

  const go = (next: Page) => {
    setPage(next);
    window.history.pushState(null, "", `/console/${next}${window.location.search}`);
  };
  const signOut = async () => {
    await api("POST", "/console/signout");
    window.location.assign("/console/");
  };

  return (
    <FluentProvider theme={themeFor(theme, host.inTeams)} className={styles.root} data-theme={theme}>
      {state === "loading" && <Spinner className={styles.center} label="Loading Courier…" />}
      {state === "signin" && (
        <main className={styles.center}>
          <Title3 as="h1">Courier</Title3>
          <Text>Sign in with your work account to send notifications and manage your reminders.</Text>
          <Button appearance="primary" as="a" href="/console/signin">
            Sign in with Microsoft
          </Button>
        </main>
      )}
      {state === "error" && (
        <main className={styles.center} role="alert">
          <Title3 as="h1">Courier can't open the console</Title3>
          <Text>{problem}</Text>
        </main>
      )}
      {state === "ready" && me && (
        <>
          <header className={styles.header}>
            <Title3 as="h1">Courier</Title3>
            <nav aria-label="Pages">
              <TabList selectedValue={page} onTabSelect={(_, data) => go(data.value as Page)}>
                {isSender(me) && <Tab value="sent">Sent</Tab>}
                {isSender(me) && <Tab value="compose">Compose</Tab>}
                <Tab value="mine">Mine</Tab>
              </TabList>
            </nav>
            <span className={styles.grow} />
            <Text data-testid="me">{me.name}</Text>
            {me.session && (
              <Button appearance="subtle" onClick={signOut}>
                Sign out
              </Button>
            )}
          </header>
          <main className={styles.main}>
            {page === "sent" && isSender(me) && <SentPage me={me} />}
            {page === "compose" && isSender(me) && <ComposePage me={me} onSent={() => go("sent")} />}
            {page === "mine" && <MinePage me={me} onMe={setMe} />}
          </main>
        </>
      )}
    </FluentProvider>
  );
}
