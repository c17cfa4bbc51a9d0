from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from custseg_site import roles
from customers.selectors import customer_count_estimate, transaction_count_estimate
from segments import charts, selectors


@login_required
def home(request):
    if not request.user.has_perm(roles.VIEW_RUNS):
        # Signed in but given no role yet: nothing to read until an administrator gives one.
        return render(request, "home.html", {"no_role": True})
    published = selectors.published_run()
    segments = selectors.segment_summaries(run=published) if published else []
    for segment in segments:
        segment["colour"] = charts.segment_colour(segment["index"])
    context = {
        "customer_count": customer_count_estimate(),
        "transaction_count": transaction_count_estimate(),
        "published": published,
        "segments": segments,
        "sizes_chart": charts.sizes_figure(segments) if segments else None,
        "recent_runs": selectors.run_list()[:5],
    }
    return render(request, "home.html", context)
