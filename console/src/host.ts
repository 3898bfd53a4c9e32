// Where the console runs: inside Teams (a tab: teams-js gives the theme, the context and the SSO token) or in a
// browser (prefers-color-scheme, and a cookie session after "Sign in with Microsoft").
// teams-js is loaded only when the console may be in Teams (a separate chunk a plain browser never fetches).

export type Theme = "light" | "dark" | "contrast";

export interface Host {
  inTeams: boolean;
  theme: Theme;
  onTheme(handler: (theme: Theme) => void): void;
  token?: () => Promise<string>;
}

function teamsTheme(name: string | undefined): Theme {
  if (name === "dark") return "dark";
  if (name === "contrast") return "contrast";
  return "light";
}

function framed(): boolean {
  try {
    return window.parent !== window;
  } catch {
    return true;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error("Teams did not answer")), ms)),
  ]);
}

async function teamsHost(): Promise<Host | null> {
  try {
    const { app, authentication } = await import("@microsoft/teams-js");
    await withTimeout(app.initialize(), 5000);
    const context = await app.getContext();
    app.notifySuccess();
    return {
      inTeams: true,
      theme: teamsTheme(context.app.theme),
      onTheme(handler) {
        app.registerOnThemeChangeHandler((name) => handler(teamsTheme(name)));
      },
      token: () => authentication.getAuthToken(),
    };
  } catch {
    return null;
  }
}

function browserHost(): Host {
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const contrast = window.matchMedia("(forced-colors: active)");
  const current = (): Theme => (contrast.matches ? "contrast" : dark.matches ? "dark" : "light");
  return {
    inTeams: false,
    theme: current(),
    onTheme(handler) {
      dark.addEventListener("change", () => handler(current()));
      contrast.addEventListener("change", () => handler(current()));
    },
  };
}

export async function detectHost(): Promise<Host> {
  const wanted = new URLSearchParams(window.location.search).get("host") === "teams";
  if (wanted || framed()) {
    const teams = await teamsHost();
    if (teams) return teams;
  }
  return browserHost();
}
