"""Layout checks any browser test can call on any page, at any viewport width."""

from playwright.sync_api import Page

# The elements sticking out past the viewport's right edge, for the failure message (the
# deepest ones first: they are usually the cause, their ancestors only carry them).
_OVERFLOW = """() => {
  const width = window.innerWidth;
  const culprits = [];
  // inside a box that scrolls or clips sideways, sticking out is that box's business
  const clipped = (element) => {
    for (let parent = element.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflowX !== "visible") { return true; }
    }
    return false;
  };
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5 && !clipped(element)) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + (element.className && typeof element.className === "string" ? "." + element.className.trim().split(/\\s+/).join(".") : "");
      culprits.push(`${name} ends at ${Math.round(box.right)} px`);
    }
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: width, culprits: culprits.reverse().slice(0, 8)};
}"""


def assert_no_horizontal_overflow(page: Page) -> None:
    """Nothing on the page is wider than the window: no sideways scrolling, nothing cut off
    (document.scrollingElement.scrollWidth <= innerWidth). Call it after setting the
    viewport, e.g. page.set_viewport_size({"width": 375, "height": 800})."""
    found = page.evaluate(_OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], (
        f"{page.url} is {found['scrollWidth']} px wide in a {found['innerWidth']} px window: {found['culprits']}"
    )


def assert_inside(page: Page, inner: str, outer: str) -> None:
    """Every element matching the selector `inner` is shown, and drawn within the box of the
    (first) element matching `outer`: e.g. the header's links inside the dark bar."""
    container = page.locator(outer).first.bounding_box()
    assert container, f"{outer} is not shown"
    locator = page.locator(inner)
    assert locator.count(), f"nothing matches {inner}"
    for index in range(locator.count()):
        item = locator.nth(index)
        box = item.bounding_box()
        label = item.inner_text() or inner
        assert box and box["width"] > 0, f"{label!r} is not shown"
        assert (container["x"] - 0.5 <= box["x"] and box["x"] + box["width"] <= container["x"] + container["width"] + 0.5
                and container["y"] - 0.5 <= box["y"] and box["y"] + box["height"] <= container["y"] + container["height"] + 0.5), (
            f"{label!r} at {box} is outside {outer} at {container}")
