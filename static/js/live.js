// Live sync state: one request every two seconds per page, however many objects
// it shows. Each element in flux carries data-live="kind:id"; the answer swaps
// their fresh versions in by id (htmx out-of-band swaps), and polling pauses
// while nothing on the page is in flux.
(function () {
  function liveObjects() {
    return Array.from(document.querySelectorAll("[data-live]"), (el) => el.dataset.live);
  }
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt.id === "live-poller" && liveObjects().length === 0) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.id === "live-poller") {
      event.detail.parameters.objects = liveObjects().join(",");
    }
  });
})();
