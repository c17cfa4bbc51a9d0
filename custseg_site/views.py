from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from customers.selectors import customer_count, transaction_count
from segments import charts, selectors


@login_required
def home(request):
    published = selectors.published_run()
    segments = selectors.segment_summaries(run=published) if published else []
    for segment in segments:
        segment["colour"] = charts.segment_colour(segment["index"])
    context = {
        "customer_count": customer_count(),
        "transaction_count": transaction_count(),
        "published": published,
        "segments": segments,
        "sizes_chart": charts.sizes_figure(segments) if segments else None,
        "recent_runs": selectors.run_list()[:5],
    }
    return render(request, "home.html", context)
