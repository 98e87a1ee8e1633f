// The Pipefile extension's code: it starts pyrule's language server (`pyrule --lsp`, see
// docs/editors.md) for Pipefiles when `pyrule` is on PATH (or at pipefile.server.path).
// Without it the extension still gives highlighting, indentation and snippets.
"use strict";

const vscode = require("vscode");
const { execFile } = require("child_process");

let client;

function serverCommand() {
  const config = vscode.workspace.getConfiguration("pipefile");
  return {
    enabled: config.get("server.enabled", true),
    command: config.get("server.path", "pyrule"),
    options: {
      checkOnSave: config.get("server.checkOnSave", true),
      checkTimeout: config.get("server.checkTimeout", 10),
    },
  };
}

function activate(context) {
  const { enabled, command, options } = serverCommand();
  if (!enabled) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    // `pyrule --version` answers quickly when pyrule is installed; otherwise: no server.
    execFile(command, ["--version"], { timeout: 10000 }, (error) => {
      if (error) {
        resolve();
        return;
      }
      const { LanguageClient } = require("vscode-languageclient/node");
      client = new LanguageClient(
        "pipefile",
        "Pipefile (pyrule)",
        { command, args: ["--lsp"] },
        {
          documentSelector: [{ scheme: "file", language: "pipefile" }],
          initializationOptions: options,
        },
      );
      context.subscriptions.push({ dispose: () => client && client.stop() });
      client.start().then(resolve, (err) => {
        vscode.window.showWarningMessage(`pyrule --lsp did not start: ${err}`);
        resolve();
      });
    });
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, serverCommand };
