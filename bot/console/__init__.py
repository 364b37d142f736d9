"""The staff console for complaint tickets. (issue 5)"""
