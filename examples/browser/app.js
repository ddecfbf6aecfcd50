// Log in once with a ticket; the router then sets its login cookie (HttpOnly: this page never
// sees it) and later visits join with the cookie alone. "Log out" leaves with wamp.close.logout,
// which makes the router forget the cookie.
"use strict";

const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
const realm = document.body.dataset.realm;
let session = null;

function show(state, detail) {
  document.body.dataset.state = state;
  document.getElementById("state").textContent = state;
  document.getElementById("detail").textContent = detail || "";
}

function connect(authid, ticket) {
  const withTicket = ticket !== undefined;
  const connection = new autobahn.Connection({
    url: url,
    realm: realm,
    // The cookie goes first: a browser with a valid one is not asked for the ticket.
    authmethods: withTicket ? ["cookie", "ticket"] : ["cookie"],
    authid: withTicket ? authid : undefined,
    onchallenge: function (s, method) {
      if (method === "ticket" && withTicket) {
        return ticket;
      }
      throw new Error("unexpected challenge " + method);
    },
    max_retries: 0,
  });
  connection.onopen = function (s, details) {
    session = s;
    show("joined", JSON.stringify({authid: details.authid, authrole: details.authrole,
                                   authmethod: details.authmethod}));
  };
  connection.onclose = function (reason, details) {
    show(session === null ? "denied" : "closed", (details && details.reason) || reason);
    session = null;
    return true; // no reconnect
  };
  show("connecting");
  connection.open();
}

document.getElementById("login").addEventListener("submit", function (event) {
  event.preventDefault();
  connect(document.getElementById("authid").value, document.getElementById("ticket").value);
});

document.getElementById("logout").addEventListener("click", function () {
  if (session !== null) {
    session.leave("wamp.close.logout");
  }
});

connect(); // by cookie alone
