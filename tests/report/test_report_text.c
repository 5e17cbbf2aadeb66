/* Values rendered into notices and report pages: control characters from a registry
 * field or an id (CR, LF, ESC, BEL) never reach the output raw, in plain text or HTML. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "report_text.h"
#include "test.h"

static void check_render(int html, const char *want)
{
    report_var v[] = {{"claim", "C-1\r\nFAKE LINE\x1b[31m\a"}};
    char *text = NULL;
    REQUIRE(report_render_alloc("claim {{claim}}.", "test", v, 1, html, &text) == MC_OK);
    CHECK_STR(text, want);
    for (const char *p = text; *p; p++)
        CHECK((unsigned char)*p >= 0x20);
    free(text);
}

int main(void)
{
    check_render(0, "claim C-1??FAKE LINE?[31m?.");
    check_render(1, "claim C-1??FAKE LINE?[31m?.");
    return test_summary();
}
