// Parse Adaptive Cards with the official JS renderer (npm adaptivecards 3.x) and report every parse and
// validation event. Input on stdin: {"name": card, ...}. Output on stdout: {"name": ["event", ...], ...}.
"use strict";
const path = require("path");
const AC = require(path.join(__dirname, "..", "..", "node_modules", "adaptivecards", "dist", "adaptivecards.js"));

function check(json) {
  const problems = [];
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(json, context);
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    problems.push(`parse: ${e.message}`);
  }
  const results = card.validateProperties();
  for (const issue of results.validationEvents || []) {
    problems.push(`validate: ${issue.message}`);
  }
  return problems;
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const cards = JSON.parse(input);
  const out = {};
  for (const [name, json] of Object.entries(cards)) out[name] = check(json);
  process.stdout.write(JSON.stringify(out));
});
