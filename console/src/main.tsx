import { createRoot } from "react-dom/client";
import { App } from "./App";
import { detectHost } from "./host";

detectHost().then((host) => createRoot(document.getElementById("root")!).render(<App host={host} />));
