"""Reading results: tables, plots, answers pages, a judge's agreement with hand grades. Nothing here trains."""
